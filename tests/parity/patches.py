"""Real H&E patches of 224, 256 and 512 px, read with OpenSlide from a slide in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SLIDE = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / "slides"
    / "CMU-1-Small-Region.svs"
)
SIZES = (224, 256, 512)
# Top-left corners on tissue; each size reads its own regions.
CORNERS = ((400, 700), (1100, 1300), (600, 2100))


def real_patches() -> dict[int, np.ndarray]:
    """(3, size, size, 3) uint8 for each size."""
    import openslide

    with openslide.OpenSlide(str(SLIDE)) as slide:
        return {
            size: np.stack(
                [np.asarray(slide.read_region(c, 0, (size, size)).convert("RGB")) for c in CORNERS]
            )
            for size in SIZES
        }
