"""Which patches `segment-and-get-coords` keeps: --no-fast-mode drops white patches by
content, --tissue-thresh drops small tissue fragments."""

from __future__ import annotations

from pathlib import Path

import cv2
import h5py
import numpy as np
import openslide

from tests.cli import coords_run


def white_share(patch: np.ndarray, white_thresh: int) -> float:
    hsv = cv2.cvtColor(patch, cv2.COLOR_RGB2HSV)
    return float(((hsv[..., 1] < white_thresh) & (hsv[..., 2] >= 200)).mean())


def test_no_fast_mode_drops_white_patches_by_content(tmp_path: Path, synthetic_slide) -> None:
    loose = ("--min-tissue-fraction", "0.01")  # admit border patches that are mostly glass
    assert coords_run(synthetic_slide.path, tmp_path / "fast", *loose).exit_code == 0
    assert (
        coords_run(synthetic_slide.path, tmp_path / "slow", *loose, "--no-fast-mode").exit_code == 0
    )
    with h5py.File(tmp_path / "fast/patches/synthetic-40x.h5") as f:
        fast = {tuple(r) for r in f["coords"][...].tolist()}
    with h5py.File(tmp_path / "slow/patches/synthetic-40x.h5") as f:
        slow = {tuple(r) for r in f["coords"][...].tolist()}
    assert slow < fast
    wsi = openslide.OpenSlide(str(synthetic_slide.path))
    for x, y, w, h, level in sorted(fast):
        patch = np.asarray(wsi.read_region((x, y), level, (w, h)).convert("RGB").resize((256, 256)))
        share = white_share(patch, 15)
        assert (share >= 0.7) == ((x, y, w, h, level) not in slow), (x, y, share)


def test_tissue_thresh_drops_small_fragments(tmp_path: Path, synthetic_slide) -> None:
    low = ("--min-tissue-fraction", "0.01")
    assert coords_run(synthetic_slide.path, tmp_path / "all", *low).exit_code == 0
    big = coords_run(synthetic_slide.path, tmp_path / "big", *low, "--tissue-thresh", "0.01")
    assert big.exit_code == 0
    with (
        h5py.File(tmp_path / "all/patches/synthetic-40x.h5") as a,
        h5py.File(tmp_path / "big/patches/synthetic-40x.h5") as b,
    ):
        everything, big_only = a["coords"][...], b["coords"][...]
    # The synthetic fragments are discs of radius 2.5% of the height (~0.2% of the area each).
    fragment_centres = np.array([(0.12, 0.85), (0.22, 0.88), (0.45, 0.80), (0.90, 0.20)]) * (
        8000,
        6000,
    )

    def covers(coords, point):
        x, y = point
        return (
            (coords[:, 0] <= x)
            & (x < coords[:, 0] + 512)
            & (coords[:, 1] <= y)
            & (y < coords[:, 1] + 512)
        ).any()

    assert all(covers(everything, c) for c in fragment_centres)
    assert not any(covers(big_only, c) for c in fragment_centres)
