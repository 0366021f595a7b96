"""Tissue regions of a mask: dropping small ones (`--tissue-thresh`) and tracing contours."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Contours:
    tissue: list[np.ndarray]  # outer boundaries, (k, 1, 2) int32 in mask pixels
    holes: list[np.ndarray]


def drop_small_regions(mask: np.ndarray, min_fraction: float) -> np.ndarray:
    """Keep connected tissue regions whose area (holes included) is at least `min_fraction`
    of the whole mask; holes inside kept regions stay holes."""
    mask = mask.astype(bool)
    if min_fraction <= 0 or not mask.any():
        return mask
    min_area = min_fraction * mask.size
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8
    )
    filled_area = np.zeros(count)
    for label in range(1, count):
        x, y, w, h = stats[label, :4]
        region = (labels[y : y + h, x : x + w] == label).astype(np.uint8)
        outer, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        filled = np.zeros_like(region)
        cv2.drawContours(filled, outer, -1, 1, thickness=cv2.FILLED)
        filled_area[label] = filled.sum()
    keep = filled_area >= min_area
    keep[0] = False
    return keep[labels]


def trace_contours(mask: np.ndarray) -> Contours:
    found, hierarchy = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE
    )
    tissue: list[np.ndarray] = []
    holes: list[np.ndarray] = []
    if hierarchy is None:
        return Contours(tissue, holes)
    for contour, (_, _, _, parent) in zip(found, hierarchy[0], strict=True):
        (holes if parent >= 0 else tissue).append(contour)
    return Contours(tissue, holes)
