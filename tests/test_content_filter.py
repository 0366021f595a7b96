"""The `--no-fast-mode` content filter on real tiles and made-up patches."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from atlaspatch.orchestrator.coordinates.content_filter import is_black, is_white, keep_patch
from tests.conftest import TILES


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "name, keep",
    [
        ("tissue-level0-4302-10273-4814-10785.png", True),
        ("tissue-level2-3000-7666-7096-11763.png", True),
        ("no-tissue.png", False),
        ("almost-white-1.png", False),
    ],
)
def test_real_tiles(name: str, keep: bool) -> None:
    patch = np.asarray(Image.open(TILES / name).convert("RGB"))
    assert keep_patch(patch, white_thresh=15, black_thresh=50) is keep


def test_black_needs_seventy_percent_dark_pixels() -> None:
    patch = np.full((100, 100, 3), 200, dtype=np.uint8)
    patch[:69] = 10
    assert not is_black(patch, 50)
    patch[:70] = 10
    assert is_black(patch, 50)
    assert not is_black(patch, 5)  # a lower threshold is more lenient


def test_white_needs_bright_and_colourless() -> None:
    glass = np.full((10, 10, 3), 240, dtype=np.uint8)
    assert is_white(glass, 15)
    grey = np.full((10, 10, 3), 150, dtype=np.uint8)  # colourless but not bright
    assert not is_white(grey, 15)
    pink = np.zeros((10, 10, 3), dtype=np.uint8) + np.array([240, 200, 225], dtype=np.uint8)
    assert not is_white(pink, 15) and is_white(pink, 60)
