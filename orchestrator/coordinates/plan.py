"""The patches of a slide: grid positions on the tissue mask, then (without fast mode) by
content; each one's quality scores (from its pixels where they are read, else from the
thumbnail), the unusable ones left out with --drop-artifacts; the patch pictures too when
asked for."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

import cv2
import numpy as np

from atlaspatch.client.artifacts import ArtifactScorer
from atlaspatch.orchestrator.coordinates.content_filter import keep_patch
from atlaspatch.orchestrator.coordinates.geometry import PatchGeometry, plan_geometry
from atlaspatch.orchestrator.coordinates.grid import PatchGrid, tissue_grid
from atlaspatch.orchestrator.progress import progress
from atlaspatch.orchestrator.quality.model_scores import ModelScores
from atlaspatch.orchestrator.quality.names import NAMES
from atlaspatch.orchestrator.quality.scores import patch_scores
from atlaspatch.orchestrator.quality.thumbnail import thumbnail_scores
from atlaspatch.orchestrator.quality.verdict import (
    FROM_MODEL,
    FROM_PIXELS,
    FROM_THUMBNAIL,
    PatchQuality,
    QualityVerdict,
    over_thresholds,
    thresholds_with,
)
from atlaspatch.orchestrator.settings import CoordsSettings, RunSettings
from atlaspatch.orchestrator.slides.errors import SlideError
from atlaspatch.orchestrator.slides.opened import OpenedSlide
from atlaspatch.orchestrator.slides.patches import PatchReader
from atlaspatch.orchestrator.slides.slide import SlideSource
from atlaspatch.orchestrator.slides.thumbnail import empty_mask_reason


@dataclass(frozen=True)
class CoordsPlan:
    geometry: PatchGeometry
    xy: np.ndarray  # (N, 2) level-0 top-left corners of the kept patches
    tissue_fraction: np.ndarray  # (N,)
    candidates: int = 0  # grid positions on tissue, before the content filter
    verdict: QualityVerdict | None = None  # of the kept patches

    def rows(self) -> np.ndarray:
        g = self.geometry
        n = len(self.xy)
        return np.column_stack(
            [self.xy, np.full(n, g.read_size), np.full(n, g.read_size), np.full(n, g.level)]
        )


def plan_coordinates(
    slide: OpenedSlide,
    mask: np.ndarray,
    settings: CoordsSettings,
    run: RunSettings,
    artifacts: ArtifactScorer | None = None,
) -> CoordsPlan:
    """The patches to keep: grid positions on tissue, then (no fast mode) by content; their
    quality scored by `artifacts` where given, else from their pixels."""
    geometry = plan_geometry(
        slide.reader.level_downsamples,
        slide.scale.magnification,
        settings.target_magnification,
        settings.patch_size,
        settings.step_size,
    )
    width0, height0 = slide.level0_size
    if width0 < geometry.size_level0 or height0 < geometry.size_level0:
        raise SlideError(
            f"the slide ({width0}x{height0} px at level 0) is smaller than one patch "
            f"({geometry.size_level0} px at level 0 for {settings.patch_size} px at "
            f"{settings.target_magnification:g}x)"
        )
    if not mask.any():
        raise SlideError(empty_mask_reason(slide.thumbnail.pixels))
    grid = tissue_grid(
        mask, slide.level0_size, geometry, settings.min_tissue_fraction, settings.edge_patches
    )
    if len(grid.xy) == 0:
        raise SlideError("no tissue found: no patch of the grid lies on the tissue mask")

    keep = np.ones(len(grid.xy), dtype=bool)
    if not settings.fast_mode or settings.save_images:
        model = None
        if artifacts is not None:
            model = ModelScores(artifacts, _patch_mpp(slide, settings), len(grid.xy))
        keep, scores = _read_patches(slide.source, geometry, grid, settings, run, model)
        source = FROM_PIXELS if model is None else FROM_MODEL
        quality = PatchQuality(scores, source, artifacts.provenance() if artifacts else {})
        if not keep.any():
            raise SlideError("every patch on tissue was filtered out as white or black")
    else:
        thumbnail = slide.thumbnail
        scores = thumbnail_scores(
            thumbnail.pixels, thumbnail.downsample, grid.xy, geometry.size_level0
        )
        quality = PatchQuality(scores, FROM_THUMBNAIL)
    thresholds = thresholds_with(settings.artifact_thresholds)
    dropped = None
    if settings.drop_artifacts:
        unusable = keep & ~quality.usable(thresholds)
        dropped = int(unusable.sum())
        keep &= ~unusable
        if not keep.any():
            raise SlideError(
                f"every one of the {dropped} patches on tissue is unusable (--drop-artifacts; "
                f"scores over {_over(quality.take(unusable), thresholds)})"
            )
    verdict = QualityVerdict(quality.take(keep), thresholds, dropped)
    return CoordsPlan(geometry, grid.xy[keep], grid.tissue_fraction[keep], len(grid.xy), verdict)


def _over(quality: PatchQuality, thresholds: dict[str, float]) -> str:
    """The scores that made patches unusable, the most frequent first."""
    counts = over_thresholds(quality.scores, thresholds).sum(axis=0)
    return ", ".join(f"{NAMES[i]} ({counts[i]})" for i in np.argsort(-counts) if counts[i])


def _read_patches(
    source: SlideSource,
    geometry: PatchGeometry,
    grid: PatchGrid,
    settings: CoordsSettings,
    run: RunSettings,
    model: ModelScores | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Read every candidate once: score its quality, filter by content (no fast mode), save
    PNGs if asked. (keep, scores)."""
    keep = np.ones(len(grid.xy), dtype=bool)
    scores = np.empty((len(grid.xy), len(NAMES)), dtype=np.float32)
    images_tmp = run.images_dir / f".{source.stem}.{os.getpid()}.partial"
    if settings.save_images:
        shutil.rmtree(images_tmp, ignore_errors=True)
        images_tmp.mkdir(parents=True)
    try:
        patches = progress(len(grid.xy), "patch", source.stem, disable=not run.show_progress)
        with PatchReader(source, geometry, run.patch_workers) as reader, patches:
            for index, patch in enumerate(reader.read_many(grid.xy)):
                patches.update()
                if model is None:
                    scores[index] = patch_scores(patch)
                else:
                    model.add(index, patch)
                if not settings.fast_mode:
                    keep[index] = keep_patch(patch, settings.white_thresh, settings.black_thresh)
                if settings.save_images and keep[index]:
                    x, y = grid.xy[index]
                    name = images_tmp / f"{source.stem}_x{x}_y{y}.png"
                    cv2.imwrite(str(name), cv2.cvtColor(patch, cv2.COLOR_RGB2BGR))
        if settings.save_images:
            final = run.images_dir / source.stem
            shutil.rmtree(final, ignore_errors=True)
            os.replace(images_tmp, final)
    finally:
        shutil.rmtree(images_tmp, ignore_errors=True)
    return keep, (scores if model is None else model.finish())


def _patch_mpp(slide: OpenedSlide, settings: CoordsSettings) -> float:
    """Microns per pixel of the patches as read: the slide's at the target magnification."""
    scale = slide.scale
    if scale.mpp is None:
        return 10.0 / settings.target_magnification
    return float(scale.mpp) * scale.magnification / settings.target_magnification
