"""Tissue-mask quality per appearance class, at the patch level, through the real
`segment-and-get-coords`: synthetic slides whose labels are known (dark, pale, pink tissue,
fat; green, blue, red and black ink; debris), the same scenes with artifacts drawn over them
(blurred, folded tissue and bubble rims, which are tissue and stay; faint hatched ink of every
colour over glass and the scan area's tinted glass, which go), and CMU-1-Small-Region read
against a plain "not background" truth (dark and pink cells)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import h5py
import numpy as np

from atlaspatch.orchestrator import synthetic as s
from atlaspatch.orchestrator import synthetic_artifacts as a
from tests.quality_truth import QualitySlide, quality_slide
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
ARTIFACT_SLIDES = [(0, 16000, 40, 0.25), (1, 8000, 20, 0.5)]  # seed, width, magnification, mpp
TISSUE_CLASSES = {
    "tissue": s.TISSUE, "pale": s.PALE_TISSUE, "dark": s.DARK_TISSUE, "pink": s.PINK_TISSUE,
    "fat": s.FAT,
}  # fmt: skip
# Tissue under an artifact (its code, and the share of a patch that makes the patch one of
# it): the mask keeps it, the quality flags mark it.
ARTIFACTS_ON_TISSUE = {
    "blurred": (a.BLUR, 0.5), "folded": (a.FOLD, 0.25), "bubble_rim": (a.BUBBLE_RIM, 0.02),
}  # fmt: skip
GLASS_CLASSES = {
    "scan_area_glass": a.GREY_BAND, "faint_red_ink": a.FAINT_RED,
    "faint_green_ink": a.FAINT_GREEN, "faint_blue_ink": a.FAINT_BLUE,
    "faint_black_ink": a.FAINT_BLACK,
}  # fmt: skip
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
        for seed, width, magnification, mpp in ARTIFACT_SLIDES:
            slide = quality_slide(root / f"artifacts-{seed}", seed, width, magnification, mpp)
            out = root / f"artifacts-out-{seed}"
            h5 = segment_and_get_coords(slide.slide.path, out, 256, 20, model)
            key = f"synthetic seed {seed} with artifacts, 256 px at 20x"
            figures[key] = artifact_mask_shares(slide, h5, round(256 * magnification / 20))
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


def artifact_mask_shares(slide: QualitySlide, h5: Path, size0: int) -> dict:
    """Per class, the share of grid patches mostly of it that the mask keeps: tissue of every
    appearance and tissue under an artifact (should be 1), glass of the scan area and faint ink
    over glass (should be 0)."""
    with h5py.File(h5) as file:
        kept = {tuple(xy) for xy in file["coords"][:, :2]}
    grid = np.array(
        [(x, y) for y in range(0, slide.slide.height - size0 + 1, size0)
         for x in range(0, slide.slide.width - size0 + 1, size0)]
    )  # fmt: skip
    was_kept = np.array([tuple(xy) in kept for xy in grid])
    labels, shares = slide.label_shares(grid, size0), slide.shares(grid, size0)
    tissue = labels[:, list(s.TISSUE_LABELS)].sum(axis=1)
    figures = {}
    for name, label in TISSUE_CLASSES.items():
        figures[name] = _kept(was_kept, (labels[:, label] >= 0.5) & (shares[:, a.FOLD] == 0))
    for name, (code, share) in ARTIFACTS_ON_TISSUE.items():
        figures[name] = _kept(was_kept, (tissue >= 0.5) & (shares[:, code] >= share))
    for name, code in GLASS_CLASSES.items():
        figures[name] = _kept(was_kept, (tissue == 0) & (shares[:, code] >= 0.2))
    return figures


def _kept(was_kept: np.ndarray, mostly: np.ndarray) -> dict:
    return {
        "patches": int(mostly.sum()),
        "kept": round(float(was_kept[mostly].mean()), 4) if mostly.any() else None,
    }
