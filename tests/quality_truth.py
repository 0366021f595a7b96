"""Truth for the patch-quality tests and bench: a synthetic slide with every artifact drawn
over the appearance scene (orchestrator.synthetic_artifacts), and each patch's share of
every artifact, read from the map it was drawn from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from atlaspatch.orchestrator import synthetic as s
from atlaspatch.orchestrator import synthetic_artifacts as a

CELLULAR = (s.TISSUE, s.PALE_TISSUE, s.DARK_TISSUE, s.PINK_TISSUE)


@dataclass(frozen=True)
class QualitySlide:
    slide: s.SyntheticSlide
    artifacts: np.ndarray  # the artifact map, of the labels' shape

    def shares(self, xy: np.ndarray, size0: int) -> np.ndarray:
        """(N, codes): each patch's share of every artifact code (a.NONE ... a.FAINT_BLACK)."""
        return _shares(self.artifacts, self.slide.label_downsample, xy, size0)

    def tissue_shares(self, xy: np.ndarray, size0: int) -> np.ndarray:
        tissue = np.isin(self.slide.labels, s.TISSUE_LABELS).astype(np.uint8)
        return _shares(tissue, self.slide.label_downsample, xy, size0)[:, 1]

    def label_shares(self, xy: np.ndarray, size0: int) -> np.ndarray:
        return _shares(self.slide.labels, self.slide.label_downsample, xy, size0)


def quality_slide(
    folder: Path, seed: int = 1, width: int = 8000, magnification: float = 20, mpp: float = 0.5
) -> QualitySlide:
    height = width * 3 // 4
    labels = s.draw_appearance_scene((round(height * 2048 / width), 2048), seed)
    artifacts, nuclei = a.draw_artifacts(labels, s.TISSUE_LABELS, CELLULAR, seed)
    slide = s.write_synthetic_slide(
        folder / f"quality-{seed}.tiff",
        width=width,
        height=height,
        magnification=magnification,
        mpp=mpp,
        downsamples=(1, 4, 16),
        seed=seed,
        labels=labels,
        artifacts=(artifacts, nuclei),
    )
    return QualitySlide(slide, artifacts)


def _shares(codes: np.ndarray, downsample: float, xy: np.ndarray, size0: int) -> np.ndarray:
    count = int(codes.max()) + 1
    out = np.zeros((len(xy), max(count, a.FAINT_BLACK + 1)))
    for index, (x, y) in enumerate(np.asarray(xy)):
        rows = slice(
            int(y / downsample), max(int(y / downsample) + 1, int((y + size0) / downsample))
        )
        cols = slice(
            int(x / downsample), max(int(x / downsample) + 1, int((x + size0) / downsample))
        )
        cell = codes[rows, cols]
        out[index, :count] = np.bincount(cell.ravel(), minlength=count) / max(1, cell.size)
    return out


def precision_recall(flagged: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> tuple:
    """Over the patches that are clearly positive or negative (the rest are left out)."""
    true = int((flagged & positive).sum())
    return (
        true / max(1, int((flagged & (positive | negative)).sum())),
        true / max(1, int(positive.sum())),
        int(positive.sum()),
        int(negative.sum()),
    )
