"""Running a job over many slides: each slide locked, decided, then settled or computed (a
batch at a time); one slide's failure recorded and never allowed to stop the others."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from tqdm import tqdm

from orchestrator.batch.claim import claim
from orchestrator.batch.locks import SlideLocks
from orchestrator.pipeline.decision import Action, Decision, decide
from orchestrator.pipeline.flow import compute, settle
from orchestrator.pipeline.job import Job
from orchestrator.pipeline.result import SlideResult, failure
from orchestrator.slides.slide import SlideSource


def run_slides(sources: list[SlideSource], job: Job) -> list[SlideResult]:
    """Every slide's result, in the order of `sources`. A slide is locked before its
    decision and released when its batch is over, so that workers sharing the output
    folder never work on the same slide."""
    run = job.run
    results: list[SlideResult] = []
    batch_size = max(1, min(run.seg_batch_size, run.max_open_slides))
    progress = tqdm(total=len(sources), unit="slide", disable=not run.show_progress, leave=True)
    with (
        SlideLocks(run.output / "locks") as locks,
        ThreadPoolExecutor(max(1, min(run.patch_workers, batch_size))) as pool,
    ):
        for chunk in _chunks(sources, batch_size):
            to_compute = []
            for source in chunk:
                refused = claim(locks, source)
                if refused is not None:
                    results.append(refused)
                    continue
                decision = _decision(source, job)
                if decision.action is Action.COMPUTE:
                    to_compute.append(source)
                    continue
                results.append(_settled(source, decision, job))
                locks.release(source.stem)
            try:
                if to_compute:
                    results.extend(compute(to_compute, job, pool))
            finally:
                for source in to_compute:
                    locks.release(source.stem)
            progress.update(len(chunk))
    progress.close()
    order = {source.path: index for index, source in enumerate(sources)}
    return sorted(results, key=lambda result: order[result.source.path])


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


def _chunks(items: list[SlideSource], size: int) -> Iterator[list[SlideSource]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
