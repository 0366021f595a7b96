"""The `atlaspatch` command line."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

import click

from client.channel import Endpoint
from client.segmenter import SegmenterClient
from orchestrator import __version__
from orchestrator.commands import (
    build_segmenter,
    ensure_writable,
    in_process_features,
    load_mpp_table,
    load_sources,
    remote_features,
    run_coordinates,
    run_detect_tissue,
)
from orchestrator.devices import resolve_device
from orchestrator.encoders_setup import build_registry, default_precision, load_encoders
from orchestrator.info import describe_slide
from orchestrator.options import (
    coordinates,
    default_workers,
    encoder_endpoint,
    features,
    segmentation,
    segmenter_endpoint,
    slide_input,
    split_names,
)
from orchestrator.run_report import write_report
from orchestrator.runner import SlideResult
from orchestrator.serve_cli import serve
from orchestrator.settings import CoordsSettings, RunSettings, VisualSettings
from orchestrator.triton_cli import export_triton


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
@segmenter_endpoint
@click.option("--visualize-contours", is_flag=True, help="Also draw tissue and hole outlines.")
def detect_tissue(**options: Any) -> None:
    """Segment tissue and write mask pictures to <output>/visualization/."""
    _configure_logging(options["verbose"])
    started = time.time()
    sources, shard = load_sources(options["wsi_path"], options["recursive"], options["shard"])
    run = _run_settings(options)
    segmenter = _segmenter(options)
    results = run_detect_tissue(sources, segmenter, run, options["tissue_thresh"])
    _finish("detect-tissue", run, results, started, shard)


@main.command("segment-and-get-coords")
@slide_input
@segmentation
@segmenter_endpoint
@coordinates
def segment_and_get_coords(**options: Any) -> None:
    """Segment tissue and write patch coordinates to <output>/patches/<stem>.h5."""
    _configure_logging(options["verbose"])
    started = time.time()
    sources, shard = load_sources(options["wsi_path"], options["recursive"], options["shard"])
    run = _run_settings(options)
    segmenter = _segmenter(options)
    results = run_coordinates(sources, segmenter, _coords_settings(options), run)
    _finish("segment-and-get-coords", run, results, started, shard)


@main.command()
@slide_input
@segmentation
@segmenter_endpoint
@coordinates
@features
@encoder_endpoint
def process(**options: Any) -> None:
    """Segment tissue, extract patch coordinates and embed every patch with one or more
    encoders, all into <output>/patches/<stem>.h5 (features/<name>, row-aligned with coords).

    An existing HDF5 made with the same coordinate parameters gets only the missing feature
    sets; one made with other parameters is an error unless --force.
    """
    _configure_logging(options["verbose"])
    started = time.time()
    sources, shard = load_sources(options["wsi_path"], options["recursive"], options["shard"])
    run = _run_settings(options)
    names = split_names(options["feature_extractors"])
    if options["encoder_url"]:
        endpoint = _endpoint(options["encoder_url"], options)
        precision = options["feature_precision"] or ""  # empty: the service's default
        feature_settings = remote_features(
            endpoint, names, precision, options["feature_batch_size"]
        )
    else:
        device = _device(options["feature_device"] or options["device"])
        precision = options["feature_precision"] or default_precision(device)
        registry = build_registry(
            options["feature_plugins"], device, precision, options["feature_num_workers"]
        )
        encoders = load_encoders(registry, names, device, precision, options["weights_dir"])
        feature_settings = in_process_features(encoders, options["feature_batch_size"])
    segmenter = _segmenter(options)
    results = run_coordinates(sources, segmenter, _coords_settings(options), run, feature_settings)
    _finish("process", run, results, started, shard)


@main.command("encoders")
@click.option(
    "--feature-plugin",
    "feature_plugins",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Also list the encoders these plugin files register.",
)
@click.option(
    "--weights-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="ATLASPATCH_WEIGHTS_DIR",
    show_envvar=True,
    help="Folder of local weights to look in.",
)
def list_encoders(feature_plugins: tuple[Path, ...], weights_dir: Path | None) -> None:
    """List the encoders: name, dimension, weight source, and whether weights are here."""
    from orchestrator.encoders_table import encoders_table

    registry = build_registry(feature_plugins, "cpu", "float32", 1)
    click.echo(encoders_table(registry, weights_dir))


main.add_command(serve)
main.add_command(export_triton)


def _coords_settings(options: dict[str, Any]) -> CoordsSettings:
    return CoordsSettings(
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


def _segmenter(options: dict[str, Any]) -> SegmenterClient:
    url = options.get("segmenter_url")
    endpoint = _endpoint(url, options) if url else None
    return build_segmenter(
        options["tissue_model"], options["device"], options["sam2_checkpoint"], endpoint
    )


def _endpoint(url: str, options: dict[str, Any]) -> Endpoint:
    try:
        return Endpoint.parse(url, options.get("token"), options.get("tls_ca"))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


def _device(requested: str) -> str:
    try:
        return resolve_device(requested)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


def _run_settings(options: dict[str, Any]) -> RunSettings:
    ensure_writable(options["output"])
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


def _finish(
    command: str, run: RunSettings, results: list[SlideResult], started: float, shard: str
) -> None:
    """Write this worker's report, then exit 1 if any slide failed."""
    report = write_report(run.output, command, results, started, time.time(), shard)
    click.echo(f"report: {report}")
    sys.exit(1 if any(result.status == "failed" for result in results) else 0)


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


if __name__ == "__main__":
    main()
