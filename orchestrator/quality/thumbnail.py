"""Fast mode's scores: no patch is read, so each is scored on its cell of the thumbnail
(1.25x), where pen, folds, rims and glass still show; focus does not, so blur is NaN.

The colour rules run once over the whole thumbnail at its own resolution (a rim there is a
pixel or two wide: halving it, as a patch is, would blend it away), and each cell's shares
are summed from the maps' integral images: a slide of 50,000 patches costs one pass over
its thumbnail, not 50,000 small ones.
"""

from __future__ import annotations

import cv2
import numpy as np

from atlaspatch.orchestrator.quality.names import NAMES
from atlaspatch.orchestrator.quality.scores import class_maps, hatched

MIN_CELL = 4  # px of the thumbnail: smaller cells are scored over this many


def thumbnail_scores(
    thumbnail: np.ndarray, downsample: float, xy: np.ndarray, size_level0: int
) -> np.ndarray:
    """(N, len(NAMES)) scores of the patches at level-0 corners `xy`."""
    scores = np.full((len(xy), len(NAMES)), np.nan, dtype=np.float32)
    if len(xy) == 0:
        return scores
    height, width = thumbnail.shape[:2]
    side = max(MIN_CELL, round(size_level0 / downsample))
    corners = np.round(np.asarray(xy) / downsample).astype(int)
    left, top = corners[:, 0].clip(0, width - 1), corners[:, 1].clip(0, height - 1)
    right, bottom = np.minimum(left + side, width), np.minimum(top + side, height)
    cells = (left, top, right, bottom)

    maps = class_maps(thumbnail)
    pen = cv2.resize(maps.pen.view(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)
    pen_share, rim_share = _shares(pen > 0, cells), _shares(maps.rim, cells)
    for index in np.flatnonzero(rim_share > 0):  # a black marker's hatching is pen
        if hatched(maps.rim[top[index] : bottom[index], left[index] : right[index]]):
            pen_share[index] = min(1.0, pen_share[index] + rim_share[index])
            rim_share[index] = 0.0
    scores[:, NAMES.index("pen")] = pen_share
    scores[:, NAMES.index("fold")] = _shares(maps.fold, cells)
    scores[:, NAMES.index("bubble")] = rim_share
    scores[:, NAMES.index("background")] = _shares(maps.glass, cells)
    return scores


def _shares(mask: np.ndarray, cells: tuple[np.ndarray, ...]) -> np.ndarray:
    """The share of each cell (left, top, right, bottom; exclusive) that `mask` covers."""
    left, top, right, bottom = cells
    summed = cv2.integral(mask.view(np.uint8))  # (h + 1, w + 1), a zero row and column first
    inside = summed[bottom, right] - summed[top, right] - summed[bottom, left] + summed[top, left]
    return inside / np.maximum((right - left) * (bottom - top), 1)
