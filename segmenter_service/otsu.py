"""Classical tissue segmentation that needs no weights.

Tissue is told from background by saturation (an Otsu threshold on the median-blurred HSV
saturation, capped low enough to keep pale tissue), and from ink and debris by colour, not
darkness: both H&E stains absorb green more than red, so stained tissue of any shade, from
pale pink collagen to near-black nuclei-rich regions, has red above green. Green and blue
pens, black ink, grey or brown debris, dust and bubble rims do not. Red pen does, but it is
pure or dark red, with far less green and blue than even the deepest eosin; its pink blurred
rim goes with it. Fat, whose septa do not survive the blur, is found beside tissue by its
tint. Morphology then closes small gaps, removes speckle and fills pinholes, while real holes
in tissue stay holes.
"""

from __future__ import annotations

import cv2
import numpy as np

# Background saturation is ~0-10 (JPEG noise included); pale tissue starts around 15-20.
SATURATION_FLOOR = 12
SATURATION_CAP = 25
# Red minus green: background and grey or black ink sit near 0, green and blue pens below
# it; stained tissue is above it (pale tissue ~20, eosin ~100, dense haematoxylin ~40).
STAIN_RED_OVER_GREEN = 8
# Red pen keeps under a third of its red in green and under 0.4 in blue; eosin and
# haematoxylin keep more (deep eosin ~0.35 green, ~0.6 blue; nuclei ~1.0 blue).
RED_PEN_GREEN_SHARE = 0.3
RED_PEN_BLUE_SHARE = 0.4
RED_PEN_SATURATION = 100
DARK_RED_VALUE = 130
DARK_RED_BLUE_SHARE = 0.75
FAINT_RED_CHROMA = 15
FAINT_RED_BLUE_SHARE = 0.2  # blue above green, as a share of red above green: eosin ~0.5
HALO_PX = 7  # px of the 1.25x thumbnail: how far a thin stroke's blurred rim reaches
FAT_WINDOW = 7  # px of the 1.25x thumbnail: a few adipocytes
FAT_TINT = 3.0  # mean red-minus-green of fat's uncoloured pixels above the glass's
# The spread of the tint around each pixel of a fat lobule, from its septa (~8 and more);
# the scan area's tinted glass (beside the white the scanner left unscanned) is as flat as
# the sensor's noise (~1.5).
FAT_TEXTURE = 4.0
TEXTURE_WINDOW = FAT_WINDOW
# Raised whenever a thumbnail's mask changes, so that coordinates made by an older mask are
# made again rather than reused (files from before it was recorded are version 1). 2: faint
# and hatched red pen and the scan area's tinted glass left out.
MASK_VERSION = "2"
# Dark and colourless is debris or black ink; dark and purple is tissue.
DARK_VALUE = 100
DEBRIS_CHROMA_SHARE = 0.4  # red-minus-green below this share of the value: greyish


class OtsuSegmenter:
    name = "otsu"

    def segment(self, thumbnails: list[np.ndarray]) -> list[np.ndarray]:
        return [segment_tissue(t) for t in thumbnails]

    def provenance(self) -> dict[str, str]:
        return {
            "tissue_model": "otsu",
            "mask_version": MASK_VERSION,
            "saturation_threshold": f"otsu clipped to [{SATURATION_FLOOR}, {SATURATION_CAP}]",
            "stain_test": f"red - green > {STAIN_RED_OVER_GREEN}, red pen and debris out, "
            "fat beside tissue by its tint",
        }


def segment_tissue(rgb: np.ndarray) -> np.ndarray:
    """Bool tissue mask of an RGB uint8 thumbnail."""
    if rgb.shape[0] < 3 or rgb.shape[1] < 3:
        return np.zeros(rgb.shape[:2], dtype=bool)
    blurred = cv2.medianBlur(rgb, 5 if min(rgb.shape[:2]) >= 5 else 3)
    saturation = cv2.cvtColor(blurred, cv2.COLOR_RGB2HSV)[..., 1]
    coloured = saturation > _saturation_threshold(saturation)
    red, green, blue = (blurred[..., i].astype(np.int16) for i in range(3))
    red_pen = _red_pen(red, green, blue, saturation)
    near_red_pen = _beside(red_pen)  # a solid stroke's blurred rim; a faint one has none
    any_red_pen = red_pen | _faint_red_pen(red, green, blue)
    tissue = _clean(coloured & _stained(red, green, blue) & ~_widen(any_red_pen, 5))
    tissue |= _fat(tissue, rgb, coloured, near_red_pen)
    # A red stroke's blurred rim is pink like eosin: drop regions lying mostly beside it.
    return _drop_ink_halos(tissue, near_red_pen)


def _fat(
    tissue: np.ndarray, rgb: np.ndarray, coloured: np.ndarray, near_red_pen: np.ndarray
) -> np.ndarray:
    """Fat beside tissue: white cells whose septa are too thin to pass the saturation test,
    so only the mean colour of the uncoloured pixels around shows them, a tint of eosin above
    the slide's own glass. The anti-aliased rim of every tissue edge has that tint too, but
    only a few pixels wide: an opening removes it, while fat lobules are broad."""
    chroma = rgb[..., 0].astype(np.float32) - rgb[..., 1].astype(np.float32)
    glass = ~coloured & ~_widen(tissue, 5)
    if not glass.any() or not tissue.any():
        return np.zeros_like(tissue)
    uncoloured = (~coloured).astype(np.float32)
    window = (FAT_WINDOW, FAT_WINDOW)
    share = cv2.blur(uncoloured, window)
    tint = cv2.blur(chroma * uncoloured, window) / np.maximum(share, 1e-3)
    tinted = (tint > float(np.median(chroma[glass])) + FAT_TINT) & (share > 0.5) & ~coloured
    core = tinted & ~_widen(tissue, 7) & ~near_red_pen
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    core = cv2.morphologyEx(core.astype(np.uint8), cv2.MORPH_OPEN, kernel)
    count, labels = cv2.connectedComponents(core, connectivity=8)
    beside_tissue = np.zeros(count, dtype=bool)
    beside_tissue[np.unique(labels[_widen(tissue, 11) & (core > 0)])] = True
    beside_tissue[0] = False
    # Fat's septa vary its tint from pixel to pixel; the scan area's tinted glass is flat.
    textured = _texture(chroma, (TEXTURE_WINDOW, TEXTURE_WINDOW)) >= FAT_TEXTURE
    return _widen(beside_tissue[labels], 9) & tinted & textured


def _texture(channel: np.ndarray, window: tuple[int, int]) -> np.ndarray:
    """The standard deviation of `channel` around each pixel."""
    mean = cv2.blur(channel, window)
    return np.sqrt(np.maximum(cv2.blur(channel * channel, window) - mean * mean, 0))


def _beside(ink: np.ndarray) -> np.ndarray:
    """Within a stroke's width of ink (at least HALO_PX): how far a blurred rim reaches
    scales with the stroke, whatever the picture's magnification."""
    if not ink.any():
        return ink
    inside = cv2.distanceTransform(ink.astype(np.uint8), cv2.DIST_L2, 3)
    reach = max(HALO_PX, 2 * float(np.percentile(inside[ink], 90)))
    outside = cv2.distanceTransform((~ink).astype(np.uint8), cv2.DIST_L2, 3)
    return outside <= reach


def _saturation_threshold(saturation: np.ndarray) -> float:
    otsu, _ = cv2.threshold(saturation, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return float(np.clip(otsu, SATURATION_FLOOR, SATURATION_CAP))


def _stained(red: np.ndarray, green: np.ndarray, blue: np.ndarray) -> np.ndarray:
    """H&E-coloured: red above green, and not a dark grey or brown (debris, black ink)."""
    chroma = red - green
    value = np.maximum(np.maximum(red, green), blue)
    debris = (value < DARK_VALUE) & (chroma < DEBRIS_CHROMA_SHARE * value)
    return (chroma > STAIN_RED_OVER_GREEN) & ~debris


def _red_pen(
    red: np.ndarray, green: np.ndarray, blue: np.ndarray, saturation: np.ndarray
) -> np.ndarray:
    """Pure red, or dark red: dark tissue is purple, with as much blue as red."""
    pure = (
        (saturation > RED_PEN_SATURATION)
        & (green < RED_PEN_GREEN_SHARE * red)
        & (blue < RED_PEN_BLUE_SHARE * red)
    )
    value = np.maximum(np.maximum(red, green), blue)
    dark_red = (value < DARK_RED_VALUE) & (blue < DARK_RED_BLUE_SHARE * red) & (green < red // 2)
    return pure | dark_red


def _faint_red_pen(red: np.ndarray, green: np.ndarray, blue: np.ndarray) -> np.ndarray:
    """Red ink of any strength, faint and hatched strokes too: it keeps blue near green,
    where both stains hold blue well above green."""
    chroma = red - green
    return (chroma >= FAINT_RED_CHROMA) & (blue - green < FAINT_RED_BLUE_SHARE * chroma)


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
