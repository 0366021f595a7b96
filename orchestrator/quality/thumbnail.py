"""Fast mode's scores: no patch is read, so each is scored on its cell of the thumbnail
(1.25x), where pen, folds, rims and glass still show; focus does not, so blur is NaN."""

from __future__ import annotations

import numpy as np

from atlaspatch.orchestrator.quality.names import NAMES
from atlaspatch.orchestrator.quality.scores import patch_scores

MIN_CELL = 4  # px of the thumbnail: smaller cells are scored over this many


def thumbnail_scores(
    thumbnail: np.ndarray, downsample: float, xy: np.ndarray, size_level0: int
) -> np.ndarray:
    """(N, len(NAMES)) scores of the patches at level-0 corners `xy`."""
    scores = np.full((len(xy), len(NAMES)), np.nan, dtype=np.float32)
    height, width = thumbnail.shape[:2]
    side = max(MIN_CELL, round(size_level0 / downsample))
    for index, (x, y) in enumerate(np.round(np.asarray(xy) / downsample).astype(int)):
        left, top = min(max(0, x), width - 1), min(max(0, y), height - 1)
        cell = thumbnail[top : top + side, left : left + side]
        scores[index] = patch_scores(np.ascontiguousarray(cell), measure_blur=False)
    return scores
