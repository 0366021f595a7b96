"""Running `encode-slide` and `encode-patient`: the plan, the patch features, the encoders,
the summary (and report), and the exit status."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import click

from atlaspatch.orchestrator.batch.report import write_report
from atlaspatch.orchestrator.batch.summary import print_summary
from atlaspatch.orchestrator.cli.boundary import configure_logging
from atlaspatch.orchestrator.cli.connect import connect_slide_encoders
from atlaspatch.orchestrator.cli.inputs import ensure_writable, load_sources
from atlaspatch.orchestrator.cli.options import split_names
from atlaspatch.orchestrator.cli.run import exit_status
from atlaspatch.orchestrator.pipeline import interrupt
from atlaspatch.orchestrator.pipeline.result import SlideResult
from atlaspatch.orchestrator.settings import (
    CoordsSettings,
    RunSettings,
    settings_from,
    with_output_layout,
)
from atlaspatch.orchestrator.slide_encoding.patch_stage import Ready, prepare_patch_files
from atlaspatch.orchestrator.slide_encoding.plan import Plan, make_plan
from atlaspatch.orchestrator.slide_encoding.shelf import ModelShelf
from atlaspatch.orchestrator.slide_encoding.slide_stage import encode_slides


def run_encode_slide(options: dict[str, Any]) -> None:
    configure_logging(options["verbose"], quiet=logging.WARNING)
    interrupt.install()
    started = time.time()
    plan = _plan(options, "slide_encoders", patient=False)
    sources, shard = load_sources(options["wsi_path"], options["recursive"], options["shard"])
    options = with_output_layout(_with_geometry(options, plan))
    ensure_writable(options["output"])
    run = settings_from(RunSettings, options)
    ready, results = prepare_patch_files(
        sources, options, run, settings_from(CoordsSettings, options), plan.patch_encoders
    )
    shelf = ModelShelf(connect_slide_encoders(options))
    if interrupt.stopped_by() is None:
        results += encode_slides(ready, plan, run.output, shelf, run.force, run.show_progress)
    order = {source.path: index for index, source in enumerate(sources)}
    results.sort(key=lambda result: order[result.source.path])
    print_summary(results)
    _report(run, "encode-slide", results, started, shard)
    sys.exit(exit_status(results))


def run_encode_patient(options: dict[str, Any]) -> None:
    from atlaspatch.orchestrator.slide_encoding.case_ids import case_id_limit
    from atlaspatch.orchestrator.slide_encoding.manifest import load_manifest
    from atlaspatch.orchestrator.slide_encoding.patient_stage import (
        case_entries,
        encode_patients,
        print_cases,
    )

    configure_logging(options["verbose"], quiet=logging.WARNING)
    interrupt.install()
    started = time.time()
    plan = _plan(options, "patient_encoders", patient=True)
    options = with_output_layout(_with_geometry(options, plan))
    ensure_writable(options["output"])
    try:
        manifest = load_manifest(options["manifest"], case_id_limit(str(options["output"])))
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    options = {**options, "mpp_table": manifest.mpp_table}
    run = settings_from(RunSettings, options)
    coords = settings_from(CoordsSettings, options)
    ready: Ready = []
    failed: list[SlideResult] = []
    if manifest.sources:
        ready, failed = prepare_patch_files(
            manifest.sources, options, run, coords, plan.patch_encoders
        )
    shelf = ModelShelf(connect_slide_encoders(options))
    if interrupt.stopped_by() is not None:  # no case is encoded from a stopped run
        why = f"interrupted by {interrupt.stopped_by()}; a rerun goes on from here"
        failed += [SlideResult(source, "failed", why) for source, _ in ready]
        ready = []
    outcomes = encode_patients(manifest, ready, failed, plan, run, shelf)
    print_cases(outcomes)
    _report(run, "encode-patient", failed, started, "", case_entries(outcomes))
    failed_case = any(outcome.status == "failed" for outcome in outcomes)
    sys.exit(interrupt.exit_status() or (1 if failed_case else 0))


def _plan(options: dict[str, Any], key: str, patient: bool) -> Plan:
    return make_plan(
        split_names(options[key]),
        options["patch_size"],
        options["target_magnification"],
        options["mean_patch_encoder"],
        patient,
    )


def _with_geometry(options: dict[str, Any], plan: Plan) -> dict[str, Any]:
    """`options` with the patch geometry the plan settled on."""
    return {
        **options,
        "patch_size": plan.patch_size,
        "target_magnification": plan.target_magnification,
    }


def _report(
    run: RunSettings,
    command: str,
    results: list[SlideResult],
    started: float,
    shard: str,
    cases: list[dict[str, Any]] | None = None,
) -> None:
    try:
        report = write_report(run.output, command, results, started, time.time(), shard, cases)
    except OSError as exc:
        click.echo(f"Error: the report could not be written: {exc}", err=True)
        sys.exit(1)
    click.echo(f"report: {report}")
