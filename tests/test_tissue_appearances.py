"""The weight-free tissue model keeps tissue of every H&E appearance (dense dark, pink) and
leaves out ink and debris, at the patch level: on real tiles and a real slide read against
an independent "not background" truth, and on synthetic slides whose labels are known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from atlaspatch.segmenter_service.otsu import segment_tissue
from tests.conftest import TILES
from tests.real_tissue_truth import cell_truth
from tests.tissue_truth import (
    INK_AND_DEBRIS,
    appearance_scores,
    appearance_slide,
    kept_patches,
    segment_and_get_coords,
)

CMU = Path(__file__).resolve().parents[2] / "shared/data/slides/CMU-1-Small-Region.svs"


@pytest.mark.shared_data
@pytest.mark.parametrize("name", ["no-tissue-green-pen.png", "no-tissue-red-pen.png"])
def test_ink_on_real_tiles_is_left_out_cell_by_cell(name: str) -> None:
    rgb = np.asarray(Image.open(TILES / name).convert("RGB"))
    mask = segment_tissue(rgb)
    cell = 64
    rows, cols = rgb.shape[0] // cell, rgb.shape[1] // cell
    ink = cell_truth(rgb, cell)["tissue"]  # "not background" here is the ink itself
    kept = mask[: rows * cell, : cols * cell].reshape(rows, cell, cols, cell).mean((1, 3)) >= 0.5
    assert ink.sum() >= 10
    assert kept[ink].mean() <= 0.03


@pytest.mark.shared_data
def test_dark_and_pink_tissue_of_a_real_slide_are_kept(tmp_path: Path) -> None:
    """CMU-1-Small-Region on a 64-px grid at 20x: the nuclei-rich and keratinised dark
    regions and the pink collagen are tissue."""
    import openslide

    with openslide.OpenSlide(CMU) as slide:
        rgb = np.asarray(slide.read_region((0, 0), 0, slide.dimensions).convert("RGB"))
    truth = cell_truth(rgb, 64)
    assert truth["dark"].sum() >= 50 and truth["pink"].sum() >= 50
    kept = kept_patches(segment_and_get_coords(CMU, tmp_path, 64, 20), 64, truth["tissue"].shape)
    for appearance in ("tissue", "dark", "pink"):
        assert kept[truth[appearance]].mean() >= 0.97, appearance


@pytest.mark.slow
@pytest.mark.parametrize(
    "seed, width, magnification, mpp, downsamples, patch, target",
    [
        (0, 16000, 40, 0.25, (1, 4, 16), 128, 20),
        (1, 8000, 20, 0.5, (1, 4, 16), 64, 20),
        (2, 12000, 40, 0.25, (1, 2, 8, 32), 32, 10),
    ],
)
def test_every_appearance_beside_ink_of_the_same_darkness(
    tmp_path: Path, seed, width, magnification, mpp, downsamples, patch, target
) -> None:
    slide = appearance_slide(tmp_path, seed, width, magnification, mpp, downsamples)
    size0 = round(patch * magnification / target)
    h5 = segment_and_get_coords(slide.path, tmp_path / "out", patch, target)
    scores = appearance_scores(slide, h5, size0)
    print(scores)
    assert scores["dark"]["kept"] >= 0.97 and scores["pink"]["kept"] >= 0.97
    for ink in INK_AND_DEBRIS:
        assert scores[ink]["kept"] <= 0.03, ink
    assert scores["fat"]["kept"] >= 0.9  # its septa vanish at 1.25x: found by their tint
    assert scores["precision"] >= 0.97 and scores["recall"] >= 0.97
