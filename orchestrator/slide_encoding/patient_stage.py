"""Encoding patients: a patient whose slides all have their patch files gets one embedding
per encoder (reused where the file there was made from the same slide files); a patient with
a failed slide, or a manifest row that cannot be used, fails, naming it and why; the others
go on."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click

from atlaspatch.client.slide_encoders import SlideEncoderFacts
from atlaspatch.orchestrator.batch.locks import SlideLocks
from atlaspatch.orchestrator.pipeline.result import SlideResult
from atlaspatch.orchestrator.settings import RunSettings
from atlaspatch.orchestrator.slide_encoding.manifest import Case, Manifest
from atlaspatch.orchestrator.slide_encoding.patient_store import (
    patient_attributes,
    patient_path,
    reusable,
    write_patient_embedding,
)
from atlaspatch.orchestrator.slide_encoding.plan import Plan
from atlaspatch.orchestrator.slide_encoding.shelf import ModelShelf, reason
from atlaspatch.orchestrator.slide_encoding.slide_store import read_patch_file
from atlaspatch.orchestrator.slides.slide import SlideSource


@dataclass(frozen=True)
class CaseOutcome:
    case_id: str
    encoder: str
    status: str  # "done", "skipped" or "failed"
    reason: str = ""
    output: Path | None = None


def encode_patients(
    manifest: Manifest,
    ready: list[tuple[SlideSource, Path]],
    failed: list[SlideResult],
    plan: Plan,
    run: RunSettings,
    shelf: ModelShelf,
) -> list[CaseOutcome]:
    files = {source.path: path for source, path in ready}
    why = {result.source.path: result.reason for result in failed}
    outcomes = [
        CaseOutcome(bad.label, facts.name, "failed", "; ".join(bad.reasons))
        for bad in manifest.bad
        for facts in plan.encoders
    ]
    with SlideLocks(run.output / "locks" / "patients") as locks:
        for case in manifest.cases:
            missing = [
                f"{source.name}: {why.get(source.path, 'no patch file was made')}"
                for source in case.slides
                if source.path not in files
            ]
            for facts in plan.encoders:
                if missing:
                    outcomes.append(
                        CaseOutcome(case.case_id, facts.name, "failed", "; ".join(missing))
                    )
                    continue
                paths = [files[source.path] for source in case.slides]
                outcomes.append(_locked_case(locks, case, paths, facts, manifest.path, run, shelf))
    return outcomes


def _locked_case(
    locks: SlideLocks,
    case: Case,
    paths: list[Path],
    facts: SlideEncoderFacts,
    manifest: Path,
    run: RunSettings,
    shelf: ModelShelf,
) -> CaseOutcome:
    key = f"{facts.name}.{case.case_id}"
    try:
        holder = locks.acquire(key)
    except OSError as exc:
        return CaseOutcome(case.case_id, facts.name, "failed", f"cannot take its lock: {exc}")
    if holder is not None:
        return CaseOutcome(case.case_id, facts.name, "skipped", f"another worker has it: {holder}")
    try:
        return _encode_case(case, paths, facts, manifest, run, shelf)
    except Exception as exc:
        return CaseOutcome(case.case_id, facts.name, "failed", reason(exc))
    finally:
        locks.release(key)


def _encode_case(
    case: Case,
    paths: list[Path],
    facts: SlideEncoderFacts,
    manifest: Path,
    run: RunSettings,
    shelf: ModelShelf,
) -> CaseOutcome:
    slides = [read_patch_file(path) for path in paths]
    dims = {slide.expected_dim(facts) for slide in slides}
    if len(dims) != 1:
        raise ValueError(f"the slides' features/{facts.patch_encoder} differ in dimension")
    (dim,) = dims
    output = patient_path(run.output, facts.name, case.case_id)
    attributes = patient_attributes(facts, manifest, slides)
    if not run.force and output.exists() and reusable(output, dim, attributes):
        return CaseOutcome(case.case_id, facts.name, "skipped", "its embedding exists", output)
    replaced = output.exists()
    vector = shelf.embed(facts, paths, dim, patient=True)
    write_patient_embedding(output, vector, attributes)
    note = f"{len(paths)} slides, " + ("replaced the one made otherwise" if replaced else "added")
    return CaseOutcome(case.case_id, facts.name, "done", note, output)


def case_entries(outcomes: list[CaseOutcome]) -> list[dict[str, Any]]:
    """The cases as the run report records them."""
    return [
        {**asdict(outcome), "output": str(outcome.output) if outcome.output else None}
        for outcome in outcomes
    ]


def print_cases(outcomes: list[CaseOutcome]) -> None:
    for outcome in outcomes:
        label = f"{outcome.case_id} ({outcome.encoder})"
        if outcome.status == "done":
            click.echo(f"done     {label}: {outcome.reason} -> {outcome.output}")
        elif outcome.status == "skipped":
            click.echo(f"skipped  {label}: {outcome.reason}")
    for outcome in outcomes:
        if outcome.status == "failed":
            click.echo(
                f"FAILED   {outcome.case_id} ({outcome.encoder}): {outcome.reason}", err=True
            )
    counts = Counter(outcome.status for outcome in outcomes)
    click.echo(
        f"{counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed "
        f"of {len(outcomes)} patient embeddings"
    )
