"""Commands over an output root that is already written: its QC page, and its exports to
other tools' layouts."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import click

OUTPUT_ROOT = click.argument(
    "output", type=click.Path(exists=True, file_okay=False, path_type=Path)
)


@click.command("report")
@OUTPUT_ROOT
def report(output: Path) -> None:
    """Write OUTPUT/report.html, the QC page of an output root: one row per slide (picture
    with the tissue outlined and the kept patches shaded, tissue %, patches, magnification
    and mpp with their source, stage times, status and reason), sortable and filterable.

    `detect-tissue`, `segment-and-get-coords` and `process` write it at the end of every
    run; this command writes it again, e.g. after several shards ran into one root. A root
    with per-configuration subfolders (--output-layout per-config) gets a page in each.
    """
    from atlaspatch.orchestrator.output.roots import output_roots
    from atlaspatch.orchestrator.run_report.page import write_page

    roots = output_roots(output)
    if not roots:
        raise click.ClickException(
            f"{output} holds no AtlasPatch output (no reports/, patches/ or report_files/)"
        )
    for root in roots:
        click.echo(f"QC page: {write_page(root)}")


@click.command("export")
@OUTPUT_ROOT
@click.option(
    "--layout",
    type=click.Choice(["trident", "clam"]),
    required=True,
    help="trident: <mag>x_<patch>px_<overlap>px_overlap/patches/<stem>_patches.h5, "
    "features_<encoder>/<stem>.h5 and slide_features_<encoder>/<stem>.h5. clam: "
    "patches/<stem>.h5, features_<encoder>/h5_files/<stem>.h5 and pt_files/<stem>.pt, "
    "process_list_autogen.csv.",
)
@click.option(
    "--to",
    "destination",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write into  [default: OUTPUT/<layout>]",
)
@click.option(
    "--feature-extractors",
    "encoders",
    help="Comma-separated feature sets to export; a slide without one of them fails  "
    "[default: every complete set each slide holds]",
)
@click.option(
    "--no-pt",
    is_flag=True,
    help="clam: leave out pt_files (writing them needs torch); CLAM reads h5_files with "
    "load_from_h5(True).",
)
def export(
    output: Path, layout: str, destination: Path | None, encoders: str | None, no_pt: bool
) -> None:
    """Write an output root's slides in TRIDENT's or CLAM's layout, so that their training
    and slide-encoding code reads them as their own. Existing files of the same names are
    replaced; each file is written whole or not at all.

    Coordinates and features are the same numbers as in our HDF5 files: level-0 top-left
    corners and float32 features, row for row.
    """
    from atlaspatch.orchestrator.export.run import export as run_export
    from atlaspatch.orchestrator.export.run import slide_files

    if layout == "clam" and not no_pt and importlib.util.find_spec("torch") is None:
        raise click.UsageError(
            "CLAM's pt_files are torch tensors and torch is not installed: "
            "pip install 'atlaspatch[services]', or pass --no-pt"
        )
    files = slide_files(output)
    if not files:
        raise click.ClickException(f"{output} holds no slide outputs (patches/*.h5)")
    destination = destination or output / layout
    names = [name.strip() for name in encoders.split(",") if name.strip()] if encoders else None
    result = run_export(files, layout, destination, names, pt_files=not no_pt)
    for note in result.notes:
        click.echo(f"note     {note}")
    for path, reason in result.failures.items():
        click.echo(f"FAILED   {path}: {reason}", err=True)
    click.echo(
        f"{len(result.slides)} slides exported ({result.files} files) to {destination}; "
        f"{len(result.failures)} failed"
    )
    sys.exit(1 if result.failures else 0)
