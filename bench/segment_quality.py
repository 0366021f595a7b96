"""Tissue-mask quality per appearance class, at the patch level, through the real
`segment-and-get-coords`: synthetic slides whose labels are known (dark, pale, pink tissue,
fat; green, blue, red and black ink; debris), and CMU-1-Small-Region read against a plain
"not background" truth (dark and pink cells)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from orchestrator.cli import main
from orchestrator.synthetic import draw_appearance_scene, write_synthetic_slide
from tests.real_tissue_truth import cell_truth
from tests.tissue_truth import appearance_scores, kept_patches

SLIDES = [  # seed, width, magnification, mpp, downsamples, patch, target
    (0, 16000, 40, 0.25, (1, 4, 16), 128, 20),
    (1, 8000, 20, 0.5, (1, 4, 16), 64, 20),
]
CMU = Path(__file__).resolve().parents[2] / "shared/data/slides/CMU-1-Small-Region.svs"


def coords(slide: Path, out: Path, patch: int, target: int, model: list[str]) -> Path:
    arguments = [
        "segment-and-get-coords",
        str(slide),
        "-o",
        str(out),
        "--patch-size",
        str(patch),
        "--target-mag",
        str(target),
        *model,
    ]
    result = CliRunner().invoke(main, arguments)
    if result.exit_code != 0:
        raise RuntimeError(result.output)
    return out / "patches" / f"{slide.stem}.h5"


def quality(model: list[str]) -> dict:
    figures: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for seed, width, magnification, mpp, downsamples, patch, target in SLIDES:
            height = width * 3 // 4
            slide = write_synthetic_slide(
                root / f"appearances-{seed}.tiff",
                width=width,
                height=height,
                magnification=magnification,
                mpp=mpp,
                downsamples=downsamples,
                seed=seed,
                labels=draw_appearance_scene((round(height * 2048 / width), 2048), seed),
            )
            h5 = coords(slide.path, root / f"out-{seed}", patch, target, model)
            size0 = round(patch * magnification / target)
            figures[f"synthetic seed {seed}, {patch} px at {target}x"] = appearance_scores(
                slide, h5, size0
            )
        if CMU.is_file():
            figures["CMU-1-Small-Region, 64 px at 20x"] = _real_slide(root, model)
    return figures


def _real_slide(root: Path, model: list[str]) -> dict:
    import openslide

    with openslide.OpenSlide(CMU) as slide:
        rgb = np.asarray(slide.read_region((0, 0), 0, slide.dimensions).convert("RGB"))
    truth = cell_truth(rgb, 64)
    kept = kept_patches(coords(CMU, root / "cmu", 64, 20, model), 64, truth["tissue"].shape)
    return {
        name: {"patches": int(cells.sum()), "kept": round(float(kept[cells].mean()), 4)}
        for name, cells in truth.items()
    }
