"""Slide thumbnails at a fixed magnification, read block by block.

OpenSlide's own get_thumbnail reads a whole level at once, which for a single-level
40x slide is gigabytes; here no read is larger than `max_read` pixels on a side.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from atlaspatch.orchestrator.slides.pyramid import level_at_or_finer
from atlaspatch.orchestrator.slides.slide import SlideReader

THUMBNAIL_MAGNIFICATION = 1.25


@dataclass(frozen=True)
class Thumbnail:
    pixels: np.ndarray  # RGB uint8 (h, w, 3)
    downsample: float  # level-0 pixels per thumbnail pixel
    level: int  # pyramid level it was read from


def read_thumbnail(
    slide: SlideReader,
    level0_magnification: float,
    magnification: float = THUMBNAIL_MAGNIFICATION,
    max_read: int = 4096,
) -> Thumbnail:
    width0, height0 = slide.level_dimensions[0]
    downsample = max(level0_magnification / magnification, 1.0)
    out_w, out_h = max(1, round(width0 / downsample)), max(1, round(height0 / downsample))
    level = level_at_or_finer(slide.level_downsamples, downsample)
    level_downsample = slide.level_downsamples[level]
    level_w, level_h = slide.level_dimensions[level]
    # Level pixels per thumbnail pixel, per axis, from the real sizes so blocks tile exactly.
    ratio_x, ratio_y = level_w / out_w, level_h / out_h

    block = max(1, int(max_read / max(ratio_x, ratio_y)))
    interpolation = cv2.INTER_AREA if min(ratio_x, ratio_y) >= 1 else cv2.INTER_LINEAR
    pixels = np.empty((out_h, out_w, 3), dtype=np.uint8)
    for ty in range(0, out_h, block):
        for tx in range(0, out_w, block):
            th, tw = min(block, out_h - ty), min(block, out_w - tx)
            lx0, ly0 = round(tx * ratio_x), round(ty * ratio_y)
            lx1 = max(lx0 + 1, round((tx + tw) * ratio_x))
            ly1 = max(ly0 + 1, round((ty + th) * ratio_y))
            region = slide.read_region(
                (round(lx0 * level_downsample), round(ly0 * level_downsample)),
                level,
                (lx1 - lx0, ly1 - ly0),
            )
            pixels[ty : ty + th, tx : tx + tw] = cv2.resize(
                region, (tw, th), interpolation=interpolation
            )
    return Thumbnail(pixels=pixels, downsample=width0 / out_w, level=level)


# Median brightness (0-255) under which a thumbnail is a dark field, not a bright one.
DARK_FIELD = 60


def empty_mask_reason(pixels: np.ndarray) -> str:
    """Why a slide whose tissue mask is empty fails, with a hint where its thumbnail is dark
    (the tissue models are made for brightfield: H&E, IHC)."""
    reason = "no tissue found: the tissue mask is empty"
    if float(np.median(pixels.mean(axis=2))) < DARK_FIELD:
        return (
            f"{reason}; the slide is dark, as fluorescence slides are: the tissue models "
            "segment brightfield slides (H&E, IHC)"
        )
    return reason
