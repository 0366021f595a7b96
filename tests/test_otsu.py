"""The weight-free tissue model: real tiles, and patch accuracy on slides with known tissue."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from atlaspatch.orchestrator.synthetic import write_synthetic_slide
from atlaspatch.segmenter_service.otsu import segment_tissue
from tests.conftest import TILES
from tests.tissue_truth import OTSU, segment_and_get_coords


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "name, low, high",
    [
        ("tissue-level0-4302-10273-4814-10785.png", 0.4, 1.0),
        ("tissue-level2-3000-7666-7096-11763.png", 0.4, 1.0),
        ("no-tissue.png", 0.0, 0.01),
        ("almost-white-1.png", 0.0, 0.01),
        ("almost-white-ihc.png", 0.0, 0.01),
        ("no-tissue-green-pen.png", 0.0, 0.02),
        ("no-tissue-red-pen.png", 0.0, 0.02),
    ],
)
def test_real_tiles(name: str, low: float, high: float) -> None:
    rgb = np.asarray(Image.open(TILES / name).convert("RGB"))
    assert low <= segment_tissue(rgb).mean() <= high


def precision_recall(slide, h5_path: Path, size0: int, step0: int) -> tuple[float, float]:
    """Patch-centre precision and recall of the written coordinates against the label map."""
    xs = np.arange(0, slide.width - size0 + 1, step0)
    ys = np.arange(0, slide.height - size0 + 1, step0)
    grid_x, grid_y = np.meshgrid(xs, ys)
    truth = slide.is_tissue(grid_x + size0 / 2, grid_y + size0 / 2)
    predicted = np.zeros_like(truth)
    with h5py.File(h5_path) as f:
        coords = f["coords"][...]
    predicted[coords[:, 1] // step0, coords[:, 0] // step0] = True
    true_positive = (truth & predicted).sum()
    return true_positive / predicted.sum(), true_positive / truth.sum()


# Tissue spans tens of patches, as on a real slide; smaller scenes measure only their borders.
@pytest.mark.slow
@pytest.mark.parametrize(
    "seed, width, magnification, mpp, downsamples, patch, target",
    [
        (0, 16000, 40, 0.25, (1, 4, 16), 128, 20),  # 40x without a 20x level
        (1, 8000, 20, 0.5, (1, 4, 16), 64, 20),
        (2, 12000, 40, 0.25, (1, 2, 8, 32), 32, 10),
    ],
)
def test_precision_and_recall_on_patch_centres(
    tmp_path: Path,
    seed: int,
    width: int,
    magnification: float,
    mpp: float,
    downsamples,
    patch: int,
    target: int,
) -> None:
    slide = write_synthetic_slide(
        tmp_path / f"slide-{seed}.tiff",
        width=width,
        height=width * 3 // 4,
        magnification=magnification,
        mpp=mpp,
        downsamples=downsamples,
        seed=seed,
    )
    h5 = segment_and_get_coords(
        slide.path, tmp_path / "out", patch, target, (*OTSU, "--device", "cpu")
    )
    size0 = round(patch * magnification / target)
    precision, recall = precision_recall(slide, h5, size0, size0)
    print(f"precision {precision:.3f} recall {recall:.3f}")
    assert precision >= 0.97 and recall >= 0.97, (precision, recall)
