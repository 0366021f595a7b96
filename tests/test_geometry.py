"""Patch geometry: which level patches are read from, and their footprint."""

from __future__ import annotations

import pytest

from atlaspatch.orchestrator.coordinates.geometry import plan_geometry
from atlaspatch.orchestrator.slides.errors import SlideError
from atlaspatch.orchestrator.slides.pyramid import level_at_or_finer


def test_level_choice_is_coarsest_at_or_finer_than_wanted() -> None:
    downsamples = (1.0, 4.0161, 16.06, 64.3)
    assert level_at_or_finer(downsamples, 2.0) == 0
    assert level_at_or_finer(downsamples, 4.0) == 1  # 4.0161 counts as 4 (within 1%)
    assert level_at_or_finer(downsamples, 15.0) == 1
    assert level_at_or_finer(downsamples, 1000.0) == 3


def test_40x_slide_without_20x_level_reads_level0_and_resizes() -> None:
    geometry = plan_geometry((1.0, 4.0, 16.0), 40, 20, patch_size=256)
    assert (geometry.level, geometry.read_size, geometry.size_level0) == (0, 512, 512)
    assert geometry.step_level0 == 512 and geometry.overlap == 0


def test_exact_level_reads_without_resize() -> None:
    geometry = plan_geometry((1.0, 4.0, 16.0), 40, 10, patch_size=256, step_size=128)
    assert (geometry.level, geometry.read_size, geometry.size_level0) == (1, 256, 1024)
    assert geometry.step_level0 == 512 and geometry.overlap == 128


def test_target_above_native_magnification_is_a_slide_error() -> None:
    with pytest.raises(SlideError, match="above the slide's own 20x"):
        plan_geometry((1.0,), 20, 40, patch_size=256)
