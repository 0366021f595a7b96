"""Patch coordinates from a mask, checked against a brute-force count at level-0 resolution."""

from __future__ import annotations

import numpy as np
import pytest

from atlaspatch.orchestrator.coordinates.geometry import PatchGeometry
from atlaspatch.orchestrator.coordinates.grid import tissue_grid


def geometry(size0: int, step0: int) -> PatchGeometry:
    return PatchGeometry(
        patch_size=size0,
        step_size=step0,
        target_magnification=1,
        level0_magnification=1,
        level=0,
        size_level0=size0,
        step_level0=step0,
        read_size=size0,
    )


def brute_force(mask: np.ndarray, downsample: int, size0: int, step0: int, min_fraction: float):
    """Every grid position, its footprint counted pixel by pixel on the upsampled mask."""
    full = np.repeat(np.repeat(mask, downsample, axis=0), downsample, axis=1)
    height0, width0 = full.shape
    kept, fractions = [], []
    for y in range(0, height0 - size0 + 1, step0):
        for x in range(0, width0 - size0 + 1, step0):
            fraction = full[y : y + size0, x : x + size0].mean()
            if fraction >= min_fraction and fraction > 0:
                kept.append((x, y))
                fractions.append(fraction)
    return np.array(kept).reshape(-1, 2), np.array(fractions)


@pytest.mark.parametrize(
    "size0, step0, min_fraction", [(20, 20, 0.5), (20, 12, 0.3), (37, 16, 0.0), (8, 8, 1.0)]
)
def test_matches_brute_force(size0: int, step0: int, min_fraction: float) -> None:
    rng = np.random.default_rng(size0 + step0)
    mask = np.zeros((40, 55), dtype=bool)
    for _ in range(6):
        y, x = rng.integers(0, 40), rng.integers(0, 55)
        mask[max(0, y - 6) : y + 6, max(0, x - 9) : x + 9] = True
    mask[18:22, 20:30] = False  # a hole
    downsample = 8
    grid = tissue_grid(
        mask, (55 * downsample, 40 * downsample), geometry(size0, step0), min_fraction
    )
    expected_xy, expected_fraction = brute_force(mask, downsample, size0, step0, min_fraction)
    assert np.array_equal(grid.xy, expected_xy)
    assert np.allclose(grid.tissue_fraction, expected_fraction, atol=1e-5)


def test_no_duplicates_and_every_patch_inside_the_slide() -> None:
    mask = np.ones((30, 40), dtype=bool)
    size0, step0 = 64, 24  # overlapping patches
    grid = tissue_grid(mask, (1000, 750), geometry(size0, step0), 0.5)
    assert len(np.unique(grid.xy, axis=0)) == len(grid.xy)
    assert (grid.xy[:, 0] + size0 <= 1000).all() and (grid.xy[:, 1] + size0 <= 750).all()
    assert (
        grid.positions_evaluated
        == len(grid.xy)
        == len(range(0, 1000 - 63, 24)) * len(range(0, 750 - 63, 24))
    )


def test_holes_are_respected() -> None:
    mask = np.ones((10, 10), dtype=bool)
    mask[3:7, 3:7] = False
    grid = tissue_grid(mask, (100, 100), geometry(10, 10), 0.5)
    inside_hole = (
        (grid.xy[:, 0] >= 30) & (grid.xy[:, 0] < 70) & (grid.xy[:, 1] >= 30) & (grid.xy[:, 1] < 70)
    )
    assert not inside_hole.any()
    assert len(grid.xy) == 100 - 16


def test_slide_smaller_than_a_patch_has_no_positions() -> None:
    grid = tissue_grid(np.ones((4, 4), bool), (16, 16), geometry(512, 512), 0.5)
    assert grid.positions_evaluated == 0 and len(grid.xy) == 0
