"""Tissue-mask quality per appearance class, at the patch level, through the real
`segment-and-get-coords`: synthetic slides whose labels are known (dark, pale, pink tissue,
fat; green, blue, red and black ink; debris), and CMU-1-Small-Region read against a plain
"not background" truth (dark and pink cells)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from tests.real_tissue_truth import cell_truth
from tests.tissue_truth import (
    appearance_scores,
    appearance_slide,
    kept_patches,
    segment_and_get_coords,
)

SLIDES = [  # seed, width, magnification, mpp, downsamples, patch, target
    (0, 16000, 40, 0.25, (1, 4, 16), 128, 20),
    (1, 8000, 20, 0.5, (1, 4, 16), 64, 20),
]
CMU = Path(__file__).resolve().parents[2] / "shared/data/slides/CMU-1-Small-Region.svs"


def quality(model: tuple[str, ...]) -> dict:
    figures: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for seed, width, magnification, mpp, downsamples, patch, target in SLIDES:
            slide = appearance_slide(root, seed, width, magnification, mpp, downsamples)
            h5 = segment_and_get_coords(slide.path, root / f"out-{seed}", patch, target, model)
            size0 = round(patch * magnification / target)
            figures[f"synthetic seed {seed}, {patch} px at {target}x"] = appearance_scores(
                slide, h5, size0
            )
        if CMU.is_file():
            figures["CMU-1-Small-Region, 64 px at 20x"] = _real_slide(root, model)
    return figures


def _real_slide(root: Path, model: tuple[str, ...]) -> dict:
    import openslide

    with openslide.OpenSlide(CMU) as slide:
        rgb = np.asarray(slide.read_region((0, 0), 0, slide.dimensions).convert("RGB"))
    truth = cell_truth(rgb, 64)
    h5 = segment_and_get_coords(CMU, root / "cmu", 64, 20, model)
    kept = kept_patches(h5, 64, truth["tissue"].shape)
    return {
        name: {"patches": int(cells.sum()), "kept": round(float(kept[cells].mean()), 4)}
        for name, cells in truth.items()
    }
