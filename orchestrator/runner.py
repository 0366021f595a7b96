"""Running a job over many slides: thumbnails in parallel, masks in batches, one slide's
failure recorded and never allowed to stop the others."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from client.segmenter import SegmenterClient
from orchestrator.errors import SlideError
from orchestrator.locks import SlideLocks
from orchestrator.settings import RunSettings
from orchestrator.slide import SlideSource
from orchestrator.slide_job import OpenedSlide, open_with_thumbnail
from segmenter_service.regions import drop_small_regions

log = logging.getLogger(__name__)


@dataclass
class SlideResult:
    source: SlideSource
    status: str  # "done", "skipped" or "failed"
    reason: str = ""
    num_patches: int | None = None
    output: Path | None = None
    seconds: dict[str, float] = field(default_factory=dict)


# Finishing a slide gets the opened slide and its cleaned mask; returns (patch count, output).
Finisher = Callable[[OpenedSlide, np.ndarray], tuple[int | None, Path | None]]
# Before any work: a result settles the slide (skipped, or done without segmentation).
Triage = Callable[[SlideSource], "SlideResult | None"]


def run_slides(
    sources: list[SlideSource],
    segmenter: SegmenterClient,
    finish: Finisher,
    run: RunSettings,
    tissue_thresh: float = 0.0,
    triage: Triage = lambda source: None,
) -> list[SlideResult]:
    """Run `finish` on every slide that `triage` does not settle on its own (skip, reuse,
    resume). A slide is locked before triage and released when its batch is over, so that
    workers sharing the output folder never work on the same slide."""
    results: list[SlideResult] = []
    batch_size = max(1, min(run.seg_batch_size, run.max_open_slides))
    progress = tqdm(total=len(sources), unit="slide", disable=not run.show_progress, leave=True)
    with (
        SlideLocks(run.output / "locks") as locks,
        ThreadPoolExecutor(max(1, min(run.patch_workers, batch_size))) as pool,
    ):
        for chunk in _chunks(sources, batch_size):
            todo = _take(chunk, locks, triage, results)
            try:
                if todo:
                    results.extend(_run_batch(todo, pool, segmenter, finish, run, tissue_thresh))
            finally:
                for source in todo:
                    locks.release(source.stem)
            progress.update(len(chunk))
    progress.close()
    order = {source.path: index for index, source in enumerate(sources)}
    return sorted(results, key=lambda result: order[result.source.path])


def _take(
    chunk: list[SlideSource], locks: SlideLocks, triage: Triage, results: list[SlideResult]
) -> list[SlideSource]:
    """The slides of `chunk` this worker locked and triage left to do; the others' results
    go to `results`."""
    todo = []
    for source in chunk:
        holder = locks.acquire(source.stem)
        if holder is not None:
            results.append(SlideResult(source, "skipped", f"another worker has it: {holder}"))
            continue
        start = time.perf_counter()
        try:
            settled = triage(source)
        except Exception as exc:
            settled = _failure(source, exc)
        if settled is None:
            todo.append(source)
            continue
        if settled.status == "done":
            settled.seconds.setdefault("finish", time.perf_counter() - start)
        results.append(settled)
        locks.release(source.stem)
    return todo


def _run_batch(
    batch: list[SlideSource],
    pool: ThreadPoolExecutor,
    segmenter: SegmenterClient,
    finish: Finisher,
    run: RunSettings,
    tissue_thresh: float,
) -> list[SlideResult]:
    results: list[SlideResult] = []
    opened: list[tuple[OpenedSlide, float]] = []
    started = time.perf_counter()
    futures = [(source, pool.submit(_timed_open, source, run.mpp_table)) for source in batch]
    for source, future in futures:
        try:
            opened.append(future.result())
        except Exception as exc:
            results.append(_failure(source, exc))
    try:
        if not opened:
            return results
        segment_start = time.perf_counter()
        try:
            masks = segmenter.segment([slide.thumbnail.pixels for slide, _ in opened])
        except Exception as exc:
            log.exception("segmentation failed for a batch of %d slides", len(opened))
            return results + [_failure(slide.source, exc, "segmentation: ") for slide, _ in opened]
        segment_seconds = (time.perf_counter() - segment_start) / len(opened)
        for (slide, open_seconds), mask in zip(opened, masks, strict=True):
            finish_start = time.perf_counter()
            try:
                cleaned = drop_small_regions(mask, tissue_thresh)
                count, output = finish(slide, cleaned)
            except Exception as exc:
                results.append(_failure(slide.source, exc))
                continue
            seconds = {
                "open_and_thumbnail": open_seconds,
                "segmentation": segment_seconds,
                "finish": time.perf_counter() - finish_start,
            }
            results.append(SlideResult(slide.source, "done", "", count, output, seconds))
            log.debug("%s: done in %.2fs", slide.source.name, time.perf_counter() - started)
    finally:
        for slide, _ in opened:
            slide.close()
    return results


def _timed_open(source: SlideSource, mpp_table: dict[str, float]) -> tuple[OpenedSlide, float]:
    start = time.perf_counter()
    slide = open_with_thumbnail(source, mpp_table)
    return slide, time.perf_counter() - start


def _failure(source: SlideSource, exc: BaseException, prefix: str = "") -> SlideResult:
    if isinstance(exc, SlideError):
        reason = str(exc)
    else:
        reason = f"{type(exc).__name__}: {exc}"
        log.debug("unexpected error on %s", source.path, exc_info=exc)
    return SlideResult(source, "failed", prefix + reason)


def _chunks(items: list[SlideSource], size: int) -> Iterator[list[SlideSource]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
