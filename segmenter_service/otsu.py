"""Classical tissue segmentation that needs no weights, in the manner of CLAM.

Tissue is what is coloured: the median-blurred HSV saturation above an Otsu threshold that
is capped low enough to keep pale tissue. Pixels that look like ink rather than stain are
taken out first: green and blue pens (H&E never has green above red), saturated pure red
pen, and dark debris or black ink. Morphology then closes small gaps, removes speckle and
fills pinholes, while real holes in tissue stay holes.
"""

from __future__ import annotations

import cv2
import numpy as np

# Background saturation is ~0-10 (JPEG noise included); pale tissue starts around 15-20.
SATURATION_FLOOR = 12
SATURATION_CAP = 25
DARK_VALUE = 90  # HSV value below this is debris or ink, not stained tissue
RED_PEN_SATURATION = 40
GREEN_OVER_RED = 8


class OtsuSegmenter:
    name = "otsu"

    def segment(self, thumbnails: list[np.ndarray]) -> list[np.ndarray]:
        return [segment_tissue(t) for t in thumbnails]

    def provenance(self) -> dict[str, str]:
        return {
            "tissue_model": "otsu",
            "saturation_threshold": f"otsu clipped to [{SATURATION_FLOOR}, {SATURATION_CAP}]",
        }


def segment_tissue(rgb: np.ndarray) -> np.ndarray:
    """Bool tissue mask of an RGB uint8 thumbnail."""
    if rgb.shape[0] < 3 or rgb.shape[1] < 3:
        return np.zeros(rgb.shape[:2], dtype=bool)
    blurred = cv2.medianBlur(rgb, 5 if min(rgb.shape[:2]) >= 5 else 3)
    hsv = cv2.cvtColor(blurred, cv2.COLOR_RGB2HSV)
    hue, saturation, value = hsv[..., 0], hsv[..., 1], hsv[..., 2]

    threshold = _saturation_threshold(saturation)
    coloured = saturation > threshold
    ink = _ink_or_debris(blurred, hue, saturation, value)
    tissue = _clean(coloured & ~_widen(ink, 5))
    return _drop_ink_halos(tissue, _widen(ink, 15))


def _saturation_threshold(saturation: np.ndarray) -> float:
    otsu, _ = cv2.threshold(saturation, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return float(np.clip(otsu, SATURATION_FLOOR, SATURATION_CAP))


def _ink_or_debris(
    rgb: np.ndarray, hue: np.ndarray, saturation: np.ndarray, value: np.ndarray
) -> np.ndarray:
    red = rgb[..., 0].astype(np.int16)
    green = rgb[..., 1].astype(np.int16)
    blue = rgb[..., 2].astype(np.int16)
    green_or_blue_pen = (green > red + GREEN_OVER_RED) & (saturation > 30)
    # Eosin is pink (blue well above green); red ink is pure red (blue close to green).
    red_pen = (
        (saturation > RED_PEN_SATURATION)
        & ((hue <= 10) | (hue >= 166))
        & (red - blue > 30)
        & (blue - green < 25)
    )
    dark = value < DARK_VALUE
    return green_or_blue_pen | red_pen | dark


def _widen(mask: np.ndarray, size: int) -> np.ndarray:
    return cv2.dilate(mask.astype(np.uint8), np.ones((size, size), np.uint8)).astype(bool)


def _drop_ink_halos(tissue: np.ndarray, near_ink: np.ndarray) -> np.ndarray:
    """Remove regions lying mostly next to ink: the blurred rim of a pen stroke is coloured
    like stain, but real tissue that a pen crosses extends well away from the stroke."""
    count, labels = cv2.connectedComponents(tissue.astype(np.uint8), connectivity=8)
    if count <= 1:
        return tissue
    area = np.bincount(labels.ravel(), minlength=count)
    beside_ink = np.bincount(labels.ravel(), weights=near_ink.ravel(), minlength=count)
    halo = beside_ink > 0.6 * area
    halo[0] = False
    return tissue & ~halo[labels]


def _clean(tissue: np.ndarray) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    closed = cv2.morphologyEx(tissue.astype(np.uint8), cv2.MORPH_CLOSE, kernel, iterations=2)
    opened = cv2.morphologyEx(closed, cv2.MORPH_OPEN, kernel)
    return _fill_small_holes(opened, max_area=4).astype(bool)


def _fill_small_holes(mask: np.ndarray, max_area: int) -> np.ndarray:
    background = (1 - mask).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(background, connectivity=4)
    small = np.zeros(count, dtype=bool)
    small[1:] = stats[1:, cv2.CC_STAT_AREA] <= max_area
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    small[border] = False  # background touching the edge is outside, not a hole
    filled = mask.copy()
    filled[small[labels]] = 1
    return filled
