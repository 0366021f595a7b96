"""The work on slides, step by step: open → segment → coordinates → embed → commit, and what
the other decisions (skip, fail, resume, add features) come to.

Slides are opened and segmented a batch at a time (`--seg-batch-size` thumbnails in one
forward pass); everything after the mask is one slide's own.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Executor
from pathlib import Path

import numpy as np

from atlaspatch.client.encoder import EncoderClient
from atlaspatch.orchestrator.coordinates.geometry import PatchGeometry
from atlaspatch.orchestrator.coordinates.plan import CoordsPlan, plan_coordinates
from atlaspatch.orchestrator.coordinates.regions import drop_small_regions
from atlaspatch.orchestrator.output.feature_sets import FeatureSets
from atlaspatch.orchestrator.output.geojson import geojson_path, save_geojson
from atlaspatch.orchestrator.output.pictures import save_contours, save_grid, save_mask
from atlaspatch.orchestrator.output.quality_sets import write_quality
from atlaspatch.orchestrator.output.space import output_bytes
from atlaspatch.orchestrator.pipeline.decision import Action, Decision
from atlaspatch.orchestrator.pipeline.embedding import embed_patches
from atlaspatch.orchestrator.pipeline.job import Job
from atlaspatch.orchestrator.pipeline.result import SlideResult, failure
from atlaspatch.orchestrator.run_report.card import save_card
from atlaspatch.orchestrator.slides.errors import SlideError
from atlaspatch.orchestrator.slides.opened import OpenedSlide, open_with_thumbnail
from atlaspatch.orchestrator.slides.slide import SlideSource
from atlaspatch.orchestrator.slides.thumbnail import empty_mask_reason

log = logging.getLogger(__name__)


def compute(sources: list[SlideSource], job: Job, pool: Executor) -> list[SlideResult]:
    """Open the slides (in parallel), segment their thumbnails together, then finish each."""
    results: list[SlideResult] = []
    opened: list[tuple[OpenedSlide, float]] = []
    futures = [(source, pool.submit(_timed_open, source, job)) for source in sources]
    for source, future in futures:
        try:
            opened.append(future.result())
        except Exception as exc:
            results.append(failure(source, exc))
    try:
        if not opened:
            return results
        start = time.perf_counter()
        try:
            masks = job.segmenter.segment([slide.thumbnail.pixels for slide, _ in opened])
        except Exception as exc:
            log.exception("segmentation failed for a batch of %d slides", len(opened))
            return results + [failure(slide.source, exc, "segmentation: ") for slide, _ in opened]
        segment_seconds = (time.perf_counter() - start) / len(opened)
        for (slide, open_seconds), mask in zip(opened, masks, strict=True):
            start = time.perf_counter()
            try:
                result = finish(slide, mask, job)
            except Exception as exc:
                results.append(failure(slide.source, exc))
                continue
            result.seconds = {
                "open_and_thumbnail": open_seconds,
                "segmentation": segment_seconds,
                "finish": time.perf_counter() - start,
            }
            stages = ", ".join(f"{stage} {s:.2f} s" for stage, s in result.seconds.items())
            log.info("%s: %s", slide.source.stem, stages)
            results.append(result)
    finally:
        for slide, _ in opened:
            slide.close()
    return results


def finish(slide: OpenedSlide, mask: np.ndarray, job: Job) -> SlideResult:
    """From the mask on: coordinates, features, commit, pictures, and the slide's QC card
    (whatever became of the slide: its picture often shows why it failed)."""
    mask = drop_small_regions(mask, job.run.tissue_thresh)
    plan = None
    try:
        if job.coords is None:
            picture = _save_pictures(slide, mask, job)
            if not mask.any():  # a failure, as in the other commands; the picture shows it
                raise SlideError(empty_mask_reason(slide.thumbnail.pixels))
            return SlideResult(slide.source, "done", output=picture)
        plan = plan_coordinates(slide, mask, job.coords, job.run, job.artifacts)
        return _commit(slide, mask, plan, job)
    finally:
        geojson = geojson_path(job.run.geojson_dir, slide.source.stem)
        shown = geojson if job.run.save_geojson and geojson.exists() else None
        save_card(job.run.report_files_dir, slide, mask, plan, shown)


def _commit(slide: OpenedSlide, mask: np.ndarray, plan: CoordsPlan, job: Job) -> SlideResult:
    """The slide's HDF5 (coordinates, then features) and its pictures."""
    assert job.coords is not None
    log.info(
        "%s: tissue on %.1f%% of the thumbnail; %d of %d grid positions on it kept (%s at "
        "level %d)",
        slide.source.stem,
        100 * float(mask.mean()),
        len(plan.xy),
        plan.candidates,
        f"{plan.geometry.read_size} px",
        plan.geometry.level,
    )
    out = job.slide_file(slide.source)
    # With features to compute, a run that dies while embedding leaves a file to resume.
    resumable = job.features is not None
    facts = job.features.encoders.describe() if job.features is not None else {}
    size = output_bytes(len(plan.xy), [f.embedding_dim for f in facts.values()])
    provenance = job.segmenter_provenance
    with out.create(
        slide, plan.geometry, job.coords, job.run, provenance, resumable, size
    ) as writer:
        writer.append(plan.rows(), plan.tissue_fraction)
        if plan.verdict is not None:
            verdict = plan.verdict
            write_quality(writer.file, verdict.quality, verdict.thresholds, verdict.dropped)
        if job.features is not None:
            writer.coords_done()
            features = FeatureSets.create(writer.file, facts, len(plan.xy))
            _embed(job, job.features.encoders, slide.source, plan.geometry, plan.xy, features, 0)
        writer.commit()
    _save_pictures(slide, mask, job, plan)
    return SlideResult(slide.source, "done", "", len(plan.xy), out.path)


def settle(source: SlideSource, decision: Decision, job: Job) -> SlideResult:
    """A slide whose decision is not to compute it."""
    out = job.slide_file(source)
    if decision.action is Action.SKIP:
        return SlideResult(source, "skipped", decision.reason, output=out.path)
    if decision.action is Action.FAIL:
        return SlideResult(source, "failed", decision.reason)
    assert job.features is not None and decision.action in (Action.RESUME, Action.ADD_FEATURES)
    if decision.action is Action.RESUME:
        with out.resuming(job.features.names) as (patches, features):
            start = features.rows_done
            xy = patches.xy[start:]
            _embed(job, job.features.encoders, source, patches.geometry, xy, features, start)
        reason = f"resumed at patch {start} of {len(patches.xy)}"
        return SlideResult(source, "done", reason, len(patches.xy), out.path)
    encoders = job.features.encoders.only(list(decision.missing))
    with out.adding(encoders.describe()) as (patches, features):
        _embed(job, encoders, source, patches.geometry, patches.xy, features, 0)
    return SlideResult(source, "done", decision.reason, len(patches.xy), out.path)


def _embed(
    job: Job,
    encoders: EncoderClient,
    source: SlideSource,
    geometry: PatchGeometry,
    xy: np.ndarray,
    features: FeatureSets,
    first_row: int,
) -> None:
    # Batches start at multiples of the batch size whether resumed or not, so a resumed slide
    # gets exactly the forward passes, and so the numbers, of an uninterrupted run.
    assert job.features is not None
    embed_patches(
        source,
        geometry,
        xy,
        encoders,
        features.write,
        job.features.feature_batch_size,
        job.run.patch_workers,
        job.run.show_progress,
        first_row,
    )


def _timed_open(source: SlideSource, job: Job) -> tuple[OpenedSlide, float]:
    start = time.perf_counter()
    slide = open_with_thumbnail(source, job.run.mpp_table)
    return slide, time.perf_counter() - start


def _save_pictures(
    slide: OpenedSlide, mask: np.ndarray, job: Job, plan: CoordsPlan | None = None
) -> Path | None:
    """The pictures asked for (the mask always, with masks only); the mask's path."""
    pixels, stem, folder = slide.thumbnail.pixels, slide.source.stem, job.run.visualization_dir
    written = None
    if job.coords is None or job.run.visualize_mask:
        written = save_mask(folder, stem, pixels, mask)[0]
    if job.run.visualize_contours:
        save_contours(folder, stem, pixels, mask)
    if job.run.save_geojson:
        save_geojson(job.run.geojson_dir, stem, mask, slide.thumbnail.downsample)
    if plan is not None and job.run.visualize_grids:
        save_grid(folder, stem, pixels, slide.level0_size, plan.xy, plan.geometry.size_level0)
    return written
