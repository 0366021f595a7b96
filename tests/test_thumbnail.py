"""Thumbnails at 1.25x: the right level, the right size, never one huge read."""

from __future__ import annotations

import cv2
import numpy as np
import openslide
import pytest

from atlaspatch.orchestrator.slides.discovery import discover_slides
from atlaspatch.orchestrator.slides.slide import open_slide
from atlaspatch.orchestrator.slides.thumbnail import read_thumbnail
from tests.conftest import SLIDES


class RecordingReader:
    """A real reader that remembers the size of every read."""

    def __init__(self, reader):
        self._reader = reader
        self.reads: list[tuple[int, int]] = []
        self.level_dimensions = reader.level_dimensions
        self.level_downsamples = reader.level_downsamples

    def read_region(self, location, level, size):
        self.reads.append(size)
        return self._reader.read_region(location, level, size)


def test_synthetic_40x_reads_the_coarsest_suitable_level(synthetic_slide) -> None:
    reader = RecordingReader(open_slide(discover_slides(synthetic_slide.path)[0]))
    thumbnail = read_thumbnail(reader, 40, max_read=256)
    # 40x -> 1.25x is a downsample of 32; the levels are 1, 4, 16: level 2 (16) is the one.
    assert thumbnail.level == 2
    assert thumbnail.pixels.shape == (round(6000 / 32), round(8000 / 32), 3)
    assert max(max(size) for size in reader.reads) <= 256 + 2

    whole = np.asarray(
        openslide.OpenSlide(str(synthetic_slide.path)).read_region((0, 0), 2, (500, 375))
    )
    expected = cv2.resize(whole[..., :3], (250, 188), interpolation=cv2.INTER_AREA)
    assert np.abs(thumbnail.pixels.astype(int) - expected.astype(int)).mean() < 2.0


@pytest.mark.shared_data
def test_single_level_slide_is_read_in_blocks() -> None:
    path = SLIDES / "CMU-1-Small-Region.svs"
    reader = RecordingReader(open_slide(discover_slides(path)[0]))
    thumbnail = read_thumbnail(reader, 20, max_read=512)
    assert thumbnail.level == 0
    assert thumbnail.pixels.shape == (round(2967 / 16), round(2220 / 16), 3)
    assert len(reader.reads) > 1 and max(max(size) for size in reader.reads) <= 512 + 16

    whole = np.asarray(openslide.OpenSlide(str(path)).read_region((0, 0), 0, (2220, 2967)))
    expected = cv2.resize(whole[..., :3], (139, 185), interpolation=cv2.INTER_AREA)
    assert np.abs(thumbnail.pixels.astype(int) - expected.astype(int)).mean() < 3.0
