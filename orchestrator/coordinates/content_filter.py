"""Per-patch content filter for `--no-fast-mode`, with AtlasPatch's semantics.

A patch is dropped as black when at least 70% of its pixels have grey level below
`black_thresh`, and as white when at least 70% of its pixels have HSV saturation below
`white_thresh` and value of at least 200 (bright and colourless: glass).
"""

from __future__ import annotations

import cv2
import numpy as np

MAJORITY = 0.7
BRIGHT_VALUE = 200


def is_black(patch: np.ndarray, black_thresh: int) -> bool:
    grey = cv2.cvtColor(patch, cv2.COLOR_RGB2GRAY)
    return float((grey < black_thresh).mean()) >= MAJORITY


def is_white(patch: np.ndarray, white_thresh: int) -> bool:
    hsv = cv2.cvtColor(patch, cv2.COLOR_RGB2HSV)
    glass = (hsv[..., 1] < white_thresh) & (hsv[..., 2] >= BRIGHT_VALUE)
    return float(glass.mean()) >= MAJORITY


def keep_patch(patch: np.ndarray, white_thresh: int, black_thresh: int) -> bool:
    return not is_black(patch, black_thresh) and not is_white(patch, white_thresh)
