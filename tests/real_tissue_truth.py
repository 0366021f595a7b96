"""Patch-level truth of a real slide without labels: a cell is tissue when most of its
pixels are not background (saturated, or darker than glass), read at full resolution, and is
called dark or pink by its mean colour. Independent of the tissue model under test."""

from __future__ import annotations

import cv2
import numpy as np


def cell_truth(rgb: np.ndarray, cell: int) -> dict[str, np.ndarray]:
    """Bool (rows, cols) maps: tissue (>= 80% not background), and of those, dark (mean
    HSV value < 130) and pink (eosin: red hue, bright, saturated)."""
    rows, cols = rgb.shape[0] // cell, rgb.shape[1] // cell
    hsv = cv2.cvtColor(cv2.medianBlur(rgb, 5), cv2.COLOR_RGB2HSV)
    hsv = hsv[: rows * cell, : cols * cell].reshape(rows, cell, cols, cell, 3).astype(np.float32)
    hue, saturation, value = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    not_background = ((saturation > 20) | (value < 200)).mean(axis=(1, 3))
    tissue = not_background >= 0.8
    mean_value = value.mean(axis=(1, 3))
    red_hue = ((hue >= 158) | (hue <= 5)).mean(axis=(1, 3))
    dark = tissue & (mean_value < 130)
    pink = tissue & (red_hue >= 0.8) & (mean_value > 170) & (saturation.mean(axis=(1, 3)) > 50)
    return {"tissue": tissue, "dark": dark, "pink": pink}
