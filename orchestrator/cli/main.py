"""The `atlaspatch` command line: each command parses its options into settings, connects to
the segmenter and encoders (in this process or services), and runs the job over its slides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from atlaspatch.orchestrator import __version__
from atlaspatch.orchestrator.cli.boundary import ServiceErrorsAsMessages
from atlaspatch.orchestrator.cli.encoding_options import (
    patient_encoding,
    patient_input,
    slide_encoding,
)
from atlaspatch.orchestrator.cli.options import (
    FEATURE_PLUGINS,
    MPP_CSV,
    SAVE_GEOJSON,
    VISUALIZE_CONTOURS,
    WEIGHTS_DIR,
)
from atlaspatch.orchestrator.cli.outputs import export, report
from atlaspatch.orchestrator.cli.pipeline_options import (
    coordinates,
    encoder_endpoint,
    features,
    segmentation,
    segmenter_endpoint,
    slide_input,
)
from atlaspatch.orchestrator.cli.serve import serve
from atlaspatch.orchestrator.cli.triton import export_triton
from atlaspatch.orchestrator.settings import CoordsSettings, settings_from

# Commands import what they run when they run: `atlaspatch --help` stays quick.


@click.group(
    cls=ServiceErrorsAsMessages,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="atlaspatch")
def main() -> None:
    """Whole-slide image preprocessing: tissue masks, patch coordinates and HDF5 outputs.

    Every command takes one slide or a folder of slides and ends with a summary; the exit
    status is 1 when any slide failed, and one bad slide never stops the others.
    """


@main.command()
@click.argument("slide", type=click.Path(exists=True, path_type=Path))
@MPP_CSV
def info(slide: Path, mpp_table: dict[str, float]) -> None:
    """Print a slide's vendor, pyramid levels, microns per pixel and magnification."""
    from atlaspatch.orchestrator.slides.info import describe_slide

    try:
        click.echo(describe_slide(slide, mpp_table))
    except Exception as exc:
        raise click.ClickException(f"{slide}: {exc}") from exc


@main.command("detect-tissue")
@slide_input
@segmentation
@segmenter_endpoint
@VISUALIZE_CONTOURS
@SAVE_GEOJSON
def detect_tissue(**options: Any) -> None:
    """Segment tissue and write mask pictures to <output>/visualization/."""
    from atlaspatch.orchestrator.cli.run import run_command

    run_command("detect-tissue", options)


@main.command("segment-and-get-coords")
@slide_input
@segmentation
@segmenter_endpoint
@coordinates
def segment_and_get_coords(**options: Any) -> None:
    """Segment tissue and write patch coordinates to <output>/patches/<stem>.h5."""
    from atlaspatch.orchestrator.cli.run import run_command

    run_command("segment-and-get-coords", options, settings_from(CoordsSettings, options))


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
    from atlaspatch.orchestrator.cli.run import run_command

    coords = settings_from(CoordsSettings, options)
    run_command("process", options, coords, with_features=True)


@main.command("encode-slide")
@slide_input
@slide_encoding
def encode_slide(**options: Any) -> None:
    """Embed each slide with slide encoders into slide_features/<name> of its
    <output>/patches/<stem>.h5, from the patch features there.

    Patch features the encoders need and the file lacks are computed first, as `process`
    computes them (a slide with no file gets its coordinates too); an existing file must
    have been made with the same coordinate options (--tissue-model, --step-size, ...).
    Embeddings made from the same patches and features are reused unless --force.
    """
    from atlaspatch.orchestrator.slide_encoding.commands import run_encode_slide

    run_encode_slide(options)


@main.command("encode-patient")
@patient_input
@patient_encoding
def encode_patient(**options: Any) -> None:
    """Embed each patient of MANIFEST (a CSV with columns case_id, slide_path and an
    optional mpp; paths relative to it) into <output>/patient_features/<name>/<case_id>.h5.

    The patch features of every slide are made or reused as in encode-slide; a patient
    with a failed slide fails, naming it, and the others go on.
    """
    from atlaspatch.orchestrator.slide_encoding.commands import run_encode_patient

    run_encode_patient(options)


@main.command("encoders")
@FEATURE_PLUGINS
@WEIGHTS_DIR
@click.option(
    "--markdown",
    is_flag=True,
    help="Print the catalogue as Markdown instead (input size, crop, interpolation, "
    "statistics, pooling, weights, licence, parity with AtlasPatch 1.1.0): docs/encoders.md.",
)
@click.option(
    "--parity",
    "parity_files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="With --markdown: JSON rows of the parity harness (tests/parity/run.py); repeatable.",
)
def list_encoders(
    feature_plugins: tuple[Path, ...],
    weights_dir: Path | None,
    markdown: bool,
    parity_files: tuple[Path, ...],
) -> None:
    """List the encoders: name, dimension, weight source, whether weights are here, and
    their licence (many pathology models are for non-commercial use only)."""
    from atlaspatch.client.catalog import encoders_listing

    listing = encoders_listing(feature_plugins, weights_dir, markdown, parity_files)
    click.echo(listing, nl=False)


main.add_command(report)
main.add_command(export)
main.add_command(serve)
main.add_command(export_triton)
