"""The `atlaspatch` command line."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from orchestrator import __version__
from orchestrator.commands import (
    build_segmenter,
    load_mpp_table,
    load_sources,
    run_coordinates,
    run_detect_tissue,
)
from orchestrator.info import describe_slide
from orchestrator.options import coordinates, default_workers, segmentation, slide_input
from orchestrator.runner import SlideResult
from orchestrator.settings import CoordsSettings, RunSettings, VisualSettings


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="atlaspatch")
def main() -> None:
    """Whole-slide image preprocessing: tissue masks, patch coordinates and HDF5 outputs.

    Every command takes one slide or a folder of slides and ends with a summary; the exit
    status is 1 when any slide failed, and one bad slide never stops the others.
    """


@main.command()
@click.argument("slide", type=click.Path(exists=True, path_type=Path))
@click.option("--mpp-csv", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def info(slide: Path, mpp_csv: Path | None) -> None:
    """Print a slide's vendor, pyramid levels, microns per pixel and magnification."""
    try:
        click.echo(describe_slide(slide, load_mpp_table(mpp_csv)))
    except click.ClickException:
        raise
    except Exception as exc:
        raise click.ClickException(f"{slide}: {exc}") from exc


@main.command("detect-tissue")
@slide_input
@segmentation
@click.option("--visualize-contours", is_flag=True, help="Also draw tissue and hole outlines.")
def detect_tissue(**options: Any) -> None:
    """Segment tissue and write mask pictures to <output>/visualization/."""
    _configure_logging(options["verbose"])
    sources = load_sources(options["wsi_path"], options["recursive"])
    run = _run_settings(options)
    segmenter = build_segmenter(
        options["tissue_model"], options["device"], options["sam2_checkpoint"]
    )
    _exit(run_detect_tissue(sources, segmenter, run, options["tissue_thresh"]))


@main.command("segment-and-get-coords")
@slide_input
@segmentation
@coordinates
def segment_and_get_coords(**options: Any) -> None:
    """Segment tissue and write patch coordinates to <output>/patches/<stem>.h5."""
    _configure_logging(options["verbose"])
    sources = load_sources(options["wsi_path"], options["recursive"])
    run = _run_settings(options)
    settings = CoordsSettings(
        patch_size=options["patch_size"],
        target_magnification=options["target_mag"],
        step_size=options["step_size"],
        tissue_thresh=options["tissue_thresh"],
        min_tissue_fraction=options["min_tissue_fraction"],
        fast_mode=options["fast_mode"],
        white_thresh=options["white_thresh"],
        black_thresh=options["black_thresh"],
        write_batch=options["write_batch"],
        save_images=options["save_images"],
    )
    segmenter = build_segmenter(
        options["tissue_model"], options["device"], options["sam2_checkpoint"]
    )
    _exit(run_coordinates(sources, segmenter, settings, run))


def _run_settings(options: dict[str, Any]) -> RunSettings:
    return RunSettings(
        output=options["output"],
        seg_batch_size=options["seg_batch_size"],
        patch_workers=default_workers(options["patch_workers"]),
        max_open_slides=options["max_open_slides"],
        skip_existing=options.get("skip_existing", False),
        force=options.get("force", False),
        mpp_table=load_mpp_table(options["mpp_csv"]),
        visual=VisualSettings(
            mask=options.get("visualize_mask", False),
            contours=options.get("visualize_contours", False),
            grids=options.get("visualize_grids", False),
        ),
        show_progress=not options["verbose"],
    )


def _exit(results: list[SlideResult]) -> None:
    sys.exit(1 if any(result.status == "failed" for result in results) else 0)


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


if __name__ == "__main__":
    main()
