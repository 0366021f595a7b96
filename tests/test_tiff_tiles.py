"""Direct tile decoding gives OpenSlide's pixels exactly, wherever it takes over."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openslide
import pytest

from atlaspatch.orchestrator.slides.discovery import discover_slides
from atlaspatch.orchestrator.slides.slide import open_slide
from atlaspatch.orchestrator.slides.tiff_tiles import TiledTiff
from tests.conftest import SLIDES


def openslide_rgb(path: Path, location, level, size) -> np.ndarray:
    rgba = np.asarray(openslide.OpenSlide(str(path)).read_region(location, level, size)).astype(int)
    return np.clip(rgba[..., :3] + (255 - rgba[..., 3:]), 0, 255)  # transparent -> white


def check_random_regions(path: Path, seed: int = 0) -> int:
    reader = open_slide(discover_slides(path)[0])
    tiles = TiledTiff.open(path, reader.level_dimensions, reader.level_downsamples)
    assert tiles is not None
    rng = np.random.default_rng(seed)
    fast = 0
    for _ in range(40):
        level = int(rng.integers(0, len(reader.level_dimensions)))
        step = int(reader.level_downsamples[level])
        width, height = reader.level_dimensions[level]
        location = (int(rng.integers(-40, width)) * step, int(rng.integers(-40, height)) * step)
        size = (int(rng.integers(1, 700)), int(rng.integers(1, 700)))
        direct = tiles.read(location, level, size)
        if direct is not None:
            fast += 1
            assert np.array_equal(direct, openslide_rgb(path, location, level, size)), (
                location,
                level,
                size,
            )
    tiles.close()
    return fast


@pytest.mark.shared_data
def test_aperio_jpeg_levels_match_openslide() -> None:
    assert check_random_regions(SLIDES / "CMU-1-Small-Region.svs") == 40


def test_synthetic_pyramid_matches_openslide(synthetic_slide) -> None:
    assert check_random_regions(synthetic_slide.path, seed=1) > 20


@pytest.mark.shared_data
def test_readers_take_the_fast_path_only_where_it_applies() -> None:
    svs = open_slide(discover_slides(SLIDES / "CMU-1-Small-Region.svs")[0])
    assert svs.tiled is not None
    for name in ("TCGA-CR-7395-01A-01-TS1.svs", "hamamatsu-fluorescence-dapi.ndpi", "boxes.tiff"):
        # JPEG 2000, NDPI and a deflate TIFF stay with OpenSlide.
        assert open_slide(discover_slides(SLIDES / name)[0]).tiled is None, name
