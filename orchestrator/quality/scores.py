"""Quality scores of one patch, from its pixels: the share of it that is pen, folded tissue, a
bubble's rim or the coverslip's edge, and glass, and the share of its stained part that is
out of focus. Each is in [0, 1], higher is worse; NaN where it cannot be measured.

- pen: ink colours no stain has, on the patch shrunk 4x so that red cells and specks vanish.
  Green and blue: green or blue above red (both stains keep red above green). Red: red well
  above green with blue barely above green (eosin's blue is far above its green). Black: dark
  and colourless (black ink, dark debris). Faint strokes count: the tests are on differences
  between colours, not on saturation; light grey strokes side by side (three or more) are a
  black marker's hatching.
- fold: tissue lying on itself, its stains doubled: saturation beyond a single layer's.
- bubble: mid-grey and colourless, as the rims of air bubbles and the coverslip's edge are;
  a dark stroke's anti-aliased fringe is left out.
- background: glass, bright and colourless (the scan area's tinted glass included).
- blur: the share of the stained blocks (4x4 per patch) whose edges are soft: too few pixels
  where the grey level climbs steeply for the block's range. A sharp nucleus' edge rises
  over a pixel or two, a blurred one over many; the ratio does not change with contrast.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

STAINED_CHROMA = 8  # red above green: stained tissue (as the tissue models test it)
FOLD_SATURATION = 178  # one H&E layer stays below it; a doubled layer goes beyond
INK_OVER_RED = 6  # green above red by this much (blue by twice): no stain does that
RED_INK_CHROMA = 20
RED_INK_BLUE_SHARE = 0.2  # blue above green, as a share of red above green: eosin ~0.5
RED_INK_SHARE_INVERSE = 5  # 1 / RED_INK_BLUE_SHARE, for integer arithmetic
RED_INK_SATURATION = 40
DARK_VALUE = 70
GREY_SATURATION = 30
RIM_VALUE = (70, 160)  # rims are mid-grey; a faint black marker over glass is lighter
FAINT_GREY_VALUE = 205
GLASS_SATURATION = 20
GLASS_VALUE = 180
PEN_SCALE = 2  # of the halved patch: a quarter of the patch's side in all
HATCH_STROKES = 3  # grey strokes in one patch from which they are hatching
MIN_STROKE = 0.002  # of the patch's area: smaller grey specks are dust
MIN_STROKE_PX = 8  # and at any scale (a thumbnail's cell): a rim's broken bits are no strokes
SHARP_EDGES = 0.1  # a steep pixel: the grey level climbs this share of the block's range
STEEP_SHARE = 0.02  # a block with fewer steep pixels than this share is soft
FOCUS_BLOCKS = 4


@dataclass(frozen=True)
class ClassMaps:
    """Which pixels of a picture are of each artifact class, by colour alone: `pen` at a
    PEN_SCALE-th of the picture's side, the others at its own."""

    pen: np.ndarray
    fold: np.ndarray
    rim: np.ndarray
    glass: np.ndarray


def patch_scores(patch: np.ndarray, measure_blur: bool = True) -> np.ndarray:
    """(len(NAMES),) float32 scores of an RGB uint8 patch. Colours are read on the patch
    halved (shares do not need every pixel, rims stay several pixels wide), focus on the
    patch itself."""
    maps = class_maps(_halved(patch))
    pen, rim = maps.pen, maps.rim
    if hatched(rim):  # grey strokes side by side: a black marker's, not a rim
        pen = pen | _shrunk(rim, pen.shape)
        rim = np.zeros_like(rim)
    blur = float("nan")
    if measure_blur:
        blur = _blur(patch, (patch[..., 0].astype(np.int16) - patch[..., 1]) > STAINED_CHROMA)
    return np.array(
        [blur, _share(pen), _share(maps.fold), _share(rim), _share(maps.glass)], np.float32
    )


def class_maps(picture: np.ndarray) -> ClassMaps:
    """The colour rules on an RGB uint8 picture, a patch or a whole thumbnail."""
    hsv = cv2.cvtColor(picture, cv2.COLOR_RGB2HSV)
    saturation, value = hsv[..., 1], hsv[..., 2]
    chroma = picture[..., 0].astype(np.int16) - picture[..., 1]
    stained = (chroma > STAINED_CHROMA) & (saturation > GLASS_SATURATION)
    colourless = saturation < GREY_SATURATION
    glass = (saturation < GLASS_SATURATION) & (value >= GLASS_VALUE)
    dark = colourless & (value < RIM_VALUE[0])
    fringe = cv2.dilate(dark.view(np.uint8), np.ones((3, 3), np.uint8)) > 0
    rim = colourless & (value >= RIM_VALUE[0]) & (value < RIM_VALUE[1]) & ~fringe
    light_grey = colourless & (value >= RIM_VALUE[1]) & (value < FAINT_GREY_VALUE) & ~fringe

    pen = _ink(picture)
    pen |= _shrunk(light_grey, pen.shape) & ~_shrunk(glass, pen.shape)
    # Stain-coloured (blue above green by a share of red above green): red ink is no fold.
    stain_hue = (picture[..., 2].astype(np.int16) - picture[..., 1]) * RED_INK_SHARE_INVERSE
    fold = stained & (stain_hue >= chroma) & (saturation >= FOLD_SATURATION)
    return ClassMaps(pen, fold, rim, glass)


def _halved(patch: np.ndarray) -> np.ndarray:
    if min(patch.shape[:2]) < 16:
        return patch
    size = (patch.shape[1] // 2, patch.shape[0] // 2)
    return cv2.resize(patch, size, interpolation=cv2.INTER_AREA)


def _share(mask: np.ndarray) -> float:
    return np.count_nonzero(mask) / mask.size


def _ink(patch: np.ndarray) -> np.ndarray:
    """Ink on the patch shrunk PEN_SCALE times (median-filtered): a bool map."""
    size = max(1, patch.shape[1] // PEN_SCALE), max(1, patch.shape[0] // PEN_SCALE)
    small = cv2.resize(patch, size, interpolation=cv2.INTER_AREA)
    if min(size) >= 3:
        small = cv2.medianBlur(small, 3)
    saturation = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)[..., 1]
    red, green, blue = (small[..., i].astype(np.int16) for i in range(3))
    value = np.maximum(np.maximum(red, green), blue)
    chroma = red - green
    green_or_blue = (green - red >= INK_OVER_RED) | (
        (blue - red >= 2 * INK_OVER_RED) & (green >= red)
    )
    red_ink = (
        (chroma >= RED_INK_CHROMA)
        & (blue - green < RED_INK_BLUE_SHARE * chroma)
        & (saturation >= RED_INK_SATURATION)
    )
    black = (value < DARK_VALUE) & (chroma < 0.4 * value)
    return green_or_blue | red_ink | black


def _shrunk(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """`mask` at the pen test's scale: where more than half of each cell is in it."""
    small = cv2.resize(mask.view(np.uint8) * 255, shape[::-1], interpolation=cv2.INTER_AREA)
    return small > 127


def hatched(grey: np.ndarray) -> bool:
    """Several separate grey strokes: hatching; a bubble's rim or the coverslip's edge crosses
    a patch once or twice."""
    if grey.mean() < 0.005:
        return False
    _, _, stats, _ = cv2.connectedComponentsWithStats(grey.astype(np.uint8), connectivity=8)
    smallest = max(MIN_STROKE_PX, MIN_STROKE * grey.size)
    strokes = (stats[1:, cv2.CC_STAT_AREA] >= smallest).sum()
    return int(strokes) >= HATCH_STROKES


def _blur(patch: np.ndarray, stained: np.ndarray) -> float:
    size = (min(patch.shape[:2]) // FOCUS_BLOCKS) * FOCUS_BLOCKS
    if size < 8 * FOCUS_BLOCKS:
        return float("nan")
    grey = cv2.cvtColor(patch[:size, :size], cv2.COLOR_RGB2GRAY)
    grey = cv2.GaussianBlur(grey, (3, 3), 0.7)  # below a nucleus, above the sensor's noise
    gradient = np.abs(cv2.Sobel(grey, cv2.CV_16S, 1, 0, ksize=3)) + np.abs(
        cv2.Sobel(grey, cv2.CV_16S, 0, 1, ksize=3)
    )
    side = size // FOCUS_BLOCKS
    shape = (FOCUS_BLOCKS, side, FOCUS_BLOCKS, side)
    inside = stained[:size, :size].reshape(shape)
    levels = grey.reshape(shape).astype(np.int16)
    high = np.where(inside, levels, -1).max(axis=(1, 3))
    low = np.where(inside, levels, 256).min(axis=(1, 3))
    # Sobel's gradient is 8x a pixel's step in each direction.
    limit = (SHARP_EDGES * 8 * (high - low + 10)).astype(np.int16)[:, None, :, None]
    steep = (gradient.reshape(shape) > limit) & inside
    counted = inside.sum(axis=(1, 3))
    measured = counted >= 0.5 * side * side
    if not measured.any():
        return float("nan")
    steep_share = steep.sum(axis=(1, 3)) / np.maximum(counted, 1)
    return float((steep_share[measured] < STEEP_SHARE).mean())
