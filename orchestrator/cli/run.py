"""Running a slide command: its slides, its settings, its segmenter and encoders, the batch
run, the summary and report, and the exit status."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

import click

from atlaspatch.api.buffers import keep_freed_buffers
from atlaspatch.orchestrator.batch.report import write_report
from atlaspatch.orchestrator.batch.runner import run_slides
from atlaspatch.orchestrator.batch.summary import print_summary
from atlaspatch.orchestrator.cli.boundary import configure_logging
from atlaspatch.orchestrator.cli.connect import (
    connect_artifacts,
    connect_encoders,
    connect_segmenter,
)
from atlaspatch.orchestrator.cli.inputs import ensure_writable, load_sources
from atlaspatch.orchestrator.pipeline import interrupt
from atlaspatch.orchestrator.pipeline.job import Job
from atlaspatch.orchestrator.pipeline.result import SlideResult
from atlaspatch.orchestrator.settings import (
    CoordsSettings,
    FeatureSettings,
    RunSettings,
    settings_from,
    with_output_layout,
)


def run_command(
    command: str,
    options: dict[str, Any],
    coords: CoordsSettings | None = None,
    with_features: bool = False,
) -> None:
    """Run `command` over its slides, write this worker's report, then exit 1 if any
    slide failed."""
    configure_logging(options["verbose"], quiet=logging.WARNING)
    interrupt.install()
    keep_freed_buffers()  # patches and batches are fresh buffers of megabytes, slide after slide
    started = time.time()
    sources, shard = load_sources(options["wsi_path"], options["recursive"], options["shard"])
    if coords is not None:
        options = with_output_layout(options)
    ensure_writable(options["output"])
    run = settings_from(RunSettings, options)
    features = None
    if with_features:  # connected before any slide: unknown encoders, a refused token fail here
        features = settings_from(FeatureSettings, options, encoders=connect_encoders(options))
        both = sorted(set(features.remove_features) & set(features.names))
        if both:
            raise click.UsageError(
                f"--remove-features and --feature-extractors both name {', '.join(both)}: "
                "to compute a feature set anew, use --force"
            )
    artifacts = None
    if coords is not None and coords.artifact_model:
        if coords.fast_mode and not coords.save_images:
            raise click.UsageError(
                "--artifact-model scores the patches' pixels, which fast mode does not read: "
                "add --no-fast-mode"
            )
        artifacts = connect_artifacts(options)
    job = Job.create(run, connect_segmenter(options), coords, features, artifacts)
    results = run_slides(sources, job)
    print_summary(results)
    try:
        report = write_report(run.output, command, results, started, time.time(), shard)
    except OSError as exc:  # a full disk, say: the summary above is all there is
        click.echo(f"Error: the report could not be written: {exc}", err=True)
        sys.exit(1)
    click.echo(f"report: {report}")
    _write_qc_page(run.output)
    sys.exit(exit_status(results))


def _write_qc_page(output: Path) -> None:
    """The QC page of the output root, this run's slides and every earlier one's; a page that
    cannot be written is said, and changes no slide's status."""
    from atlaspatch.orchestrator.run_report.page import write_page

    try:
        click.echo(f"QC page: {write_page(output)}")
    except Exception as exc:
        click.echo(f"Warning: the QC page was not written: {exc}", err=True)


def exit_status(results: list[SlideResult]) -> int:
    """128 + the signal of a stopped run; else 1 where a slide failed."""
    stopped = interrupt.exit_status()
    if stopped is not None:
        click.echo(f"stopped by {interrupt.stopped_by()}: rerun the command to go on", err=True)
        return stopped
    return 1 if any(result.status == "failed" for result in results) else 0
