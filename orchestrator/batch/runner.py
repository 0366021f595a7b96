"""Running a job over many slides: each slide locked, decided, then settled or computed (a
batch at a time); one slide's failure recorded and never allowed to stop the others."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from atlaspatch.orchestrator.batch.claim import claim
from atlaspatch.orchestrator.batch.locks import SlideLocks
from atlaspatch.orchestrator.output.removal import remove_feature_sets
from atlaspatch.orchestrator.pipeline.decision import Action, Decision, decide
from atlaspatch.orchestrator.pipeline.flow import compute, settle
from atlaspatch.orchestrator.pipeline.interrupt import stop_point, stopped_by
from atlaspatch.orchestrator.pipeline.job import Job
from atlaspatch.orchestrator.pipeline.result import SlideResult, failure
from atlaspatch.orchestrator.progress import progress as progress_bar
from atlaspatch.orchestrator.slides.slide import SlideSource


def run_slides(sources: list[SlideSource], job: Job) -> list[SlideResult]:
    """Every slide's result, in the order of `sources`. A slide is locked before its
    decision and released when its batch is over, so that workers sharing the output
    folder never work on the same slide."""
    run = job.run
    results: list[SlideResult] = []
    batch_size = max(1, min(run.seg_batch_size, run.max_open_slides))
    progress = progress_bar(len(sources), "slide", leave=True, disable=not run.show_progress)
    try:
        _run_chunks(sources, job, batch_size, results, progress)
    except KeyboardInterrupt:  # SIGTERM or Ctrl-C (interrupt.py): the rest is not done
        reached = {result.source.path for result in results}
        why = f"interrupted by {stopped_by() or 'SIGINT'}"
        for source in sources:
            if source.path not in reached:
                results.append(SlideResult(source, "failed", f"{why}; a rerun goes on from here"))
    progress.close()
    order = {source.path: index for index, source in enumerate(sources)}
    return sorted(results, key=lambda result: order[result.source.path])


def _run_chunks(
    sources: list[SlideSource],
    job: Job,
    batch_size: int,
    results: list[SlideResult],
    progress: Any,
) -> None:
    """`run_slides`' work, its results added to `results` as they come."""
    run = job.run
    with (
        SlideLocks(run.output / "locks") as locks,
        ThreadPoolExecutor(max(1, min(run.patch_workers, batch_size))) as pool,
    ):
        for chunk in _chunks(sources, batch_size):
            stop_point()
            to_compute = []
            # Per slide: what was done to its file already, and what computing it will do.
            notes: dict[Path, tuple[str, str]] = {}
            for source in chunk:
                refused = claim(locks, source)
                if refused is not None:
                    results.append(refused)
                    continue
                removed, decision = _removal(source, job), _decision(source, job)
                if decision.action is Action.COMPUTE:
                    to_compute.append(source)
                    notes[source.path] = (removed, decision.reason)
                    continue
                settled = _settled(source, decision, job)
                results.extend(_noted([settled], {source.path: (removed, "")}))
                locks.release(source.stem)
            try:
                if to_compute:
                    results.extend(_noted(compute(to_compute, job, pool), notes))
            finally:
                for source in to_compute:
                    locks.release(source.stem)
            progress.update(len(chunk))


def _decision(source: SlideSource, job: Job) -> Decision:
    try:
        return decide(source, job)
    except Exception as exc:
        return Decision(Action.FAIL, failure(source, exc).reason)


def _settled(source: SlideSource, decision: Decision, job: Job) -> SlideResult:
    start = time.perf_counter()
    try:
        result = settle(source, decision, job)
    except Exception as exc:
        return failure(source, exc)
    if result.status == "done":
        result.seconds.setdefault("finish", time.perf_counter() - start)
    return result


def _removal(source: SlideSource, job: Job) -> str:
    """--remove-features on the slide's file: what was removed, or why it could not be."""
    if job.features is None or not job.features.remove_features:
        return ""
    path = job.slide_file(source).path
    try:
        removed = remove_feature_sets(path, list(job.features.remove_features))
    except Exception as exc:
        return f"features not removed ({failure(source, exc).reason})"
    absent = [name for name in job.features.remove_features if name not in removed]
    return _joined(
        "removed " + ", ".join(f"features/{name}" for name in removed) if removed else "",
        "no " + ", ".join(f"features/{name}" for name in absent) + " to remove" if absent else "",
    )


def _noted(results: list[SlideResult], notes: dict[Path, tuple[str, str]]) -> list[SlideResult]:
    """Each result with what was done to its file before, and with what its computation did
    to the file there where it is done (one that fails leaves the file as it was)."""
    for result in results:
        before, when_done = notes.get(result.source.path, ("", ""))
        done = when_done if result.status == "done" else ""
        result.reason = _joined(before, result.reason, done)
    return results


def _joined(*parts: str) -> str:
    return "; ".join(part for part in parts if part)


def _chunks(items: list[SlideSource], size: int) -> Iterator[list[SlideSource]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
