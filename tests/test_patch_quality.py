"""Per-patch quality in the HDF5 (`qc/<score>`, `qc/usable`): on real tiles (pen, tissue) and
on a synthetic slide whose artifacts are known, through the real `segment-and-get-coords`;
--drop-artifacts, fast mode's thumbnail scores, the thresholds' option."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from PIL import Image

from atlaspatch.orchestrator import synthetic_artifacts as a
from atlaspatch.orchestrator.quality.names import NAMES
from atlaspatch.orchestrator.quality.scores import patch_scores
from atlaspatch.orchestrator.quality.thumbnail import thumbnail_scores
from atlaspatch.orchestrator.quality.verdict import DEFAULT_THRESHOLDS, usable
from tests.cli import atlaspatch
from tests.conftest import TILES
from tests.quality_truth import precision_recall, quality_slide

PATCH = ("--patch-size", "256", "--target-mag", "20", "--tissue-model", "otsu", "--device", "cpu")
SIZE0 = 256  # the slide is 20x: a patch is read 256 px wide at level 0


def tile_scores(name: str) -> np.ndarray:
    rgb = np.asarray(Image.open(TILES / name).convert("RGB"))
    return np.array(
        [
            patch_scores(np.ascontiguousarray(rgb[y : y + 256, x : x + 256]))
            for y in range(0, rgb.shape[0] - 255, 256)
            for x in range(0, rgb.shape[1] - 255, 256)
        ]
    )


@pytest.mark.shared_data
def test_real_pen_is_unusable_and_real_tissue_is_not() -> None:
    for name in ("no-tissue-green-pen.png", "no-tissue-red-pen.png"):
        scores = tile_scores(name)
        assert (scores[:, NAMES.index("pen")] >= DEFAULT_THRESHOLDS["pen"]).mean() >= 0.75, name
    for name in (
        "tissue-level0-4302-10273-4814-10785.png",
        "tissue-level2-3000-7666-7096-11763.png",
    ):
        assert usable(tile_scores(name), DEFAULT_THRESHOLDS).all(), name


@pytest.fixture(scope="module")
def slide(tmp_path_factory):
    return quality_slide(tmp_path_factory.mktemp("quality"))


@pytest.fixture(scope="module")
def scored(slide, tmp_path_factory):
    """The patches read (no fast mode), their qc/ datasets and their truth."""
    out = tmp_path_factory.mktemp("quality-out")
    result = atlaspatch(
        "segment-and-get-coords", slide.slide.path, "-o", out, *PATCH, "--no-fast-mode"
    )
    assert result.exit_code == 0, result.output
    with h5py.File(out / "patches" / f"{slide.slide.path.stem}.h5") as h5:
        coords = h5["coords"][...]
        qc = {name: h5["qc"][name][...] for name in (*NAMES, "usable")}
        attrs = dict(h5["qc"].attrs)
    return coords, qc, attrs, slide.shares(coords[:, :2], SIZE0)


def test_scores_are_stored_beside_coords_with_their_thresholds(scored) -> None:
    coords, qc, attrs, _ = scored
    for name in (*NAMES, "usable"):
        assert qc[name].shape == (len(coords),)
    assert json.loads(attrs["thresholds"]) == DEFAULT_THRESHOLDS
    assert attrs["source"].startswith("patch pixels")
    scores = np.stack([qc[name] for name in NAMES], axis=1)
    np.testing.assert_array_equal(qc["usable"], usable(scores, DEFAULT_THRESHOLDS))


@pytest.mark.parametrize(
    ("score", "code", "positive_share"),
    [("blur", a.BLUR, 0.5), ("fold", a.FOLD, 0.25), ("bubble", a.BUBBLE_RIM, 0.02)],
)
def test_blur_fold_and_bubble_flags_match_the_truth(scored, score, code, positive_share) -> None:
    _, qc, _, shares = scored
    flagged = np.nan_to_num(qc[score]) >= DEFAULT_THRESHOLDS[score]
    positive, negative = shares[:, code] >= positive_share, shares[:, code] == 0
    precision, recall, count, _ = precision_recall(flagged, positive, negative)
    assert count >= 5
    assert precision >= 0.9 and recall >= 0.9, (score, precision, recall)


def test_drop_artifacts_leaves_out_exactly_the_unusable(slide, scored, tmp_path) -> None:
    coords, qc, _, _ = scored
    result = atlaspatch(
        "segment-and-get-coords", slide.slide.path, "-o", tmp_path, *PATCH, "--no-fast-mode",
        "--drop-artifacts",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with h5py.File(tmp_path / "patches" / f"{slide.slide.path.stem}.h5") as h5:
        kept = h5["coords"][...]
        assert h5["qc"]["usable"][...].all()
        assert h5["qc"].attrs["dropped_unusable"] == int((~qc["usable"]).sum()) > 0
    np.testing.assert_array_equal(kept, coords[qc["usable"]])


def test_fast_mode_scores_the_thumbnail_and_says_so(slide, tmp_path) -> None:
    result = atlaspatch("segment-and-get-coords", slide.slide.path, "-o", tmp_path, *PATCH)
    assert result.exit_code == 0, result.output
    with h5py.File(tmp_path / "patches" / f"{slide.slide.path.stem}.h5") as h5:
        assert h5["qc"].attrs["source"].startswith("thumbnail")
        assert np.isnan(h5["qc"]["blur"][...]).all()
        coords, fold = h5["coords"][...], h5["qc"]["fold"][...]
    shares = slide.shares(coords[:, :2], SIZE0)
    precision, recall, _, _ = precision_recall(
        fold >= DEFAULT_THRESHOLDS["fold"], shares[:, a.FOLD] >= 0.5, shares[:, a.FOLD] == 0
    )
    assert precision >= 0.8 and recall >= 0.8, (precision, recall)


def test_thumbnail_cells_get_the_share_of_each_artifact_they_hold() -> None:
    eosin, rim, glass, green = (225, 120, 180), (118, 120, 124), (240, 240, 240), (40, 130, 80)
    thumbnail = np.empty((64, 64, 3), np.uint8)
    thumbnail[...] = eosin
    thumbnail[20:22, :32] = rim  # a rim 2 px wide across two cells of the second row
    for row in (2, 7, 12):  # three strokes side by side in one cell: hatching
        thumbnail[row : row + 2, 32:48] = rim
    thumbnail[48:, 48:] = glass
    thumbnail[48:, :16] = green
    corners = np.array([(x, y) for y in range(0, 64, 16) for x in range(0, 64, 16)] + [(56, 56)])
    # Level-0 corners of 512 px patches on a thumbnail 32 times smaller: 16 px cells.
    scores = thumbnail_scores(thumbnail, 32, corners * 32, 512)
    expected = np.zeros((len(corners), len(NAMES)), np.float32)
    column = {name: NAMES.index(name) for name in NAMES}
    expected[:, column["blur"]] = np.nan
    expected[[4, 5], column["bubble"]] = 2 * 16 / 256
    expected[2, column["pen"]] = 3 * 2 * 16 / 256
    expected[[15, 16], column["background"]] = 1.0  # the last cell is cut by the edge: 8x8
    expected[12, column["pen"]] = 1.0
    # The pen test's median filter (at half the side) rounds off the green block's corner.
    np.testing.assert_allclose(scores, expected, atol=1 / 64)


def test_a_threshold_is_set_by_name_and_checked(slide, tmp_path) -> None:
    wrong = atlaspatch("segment-and-get-coords", slide.slide.path, "-o", tmp_path, *PATCH,
                       "--artifact-threshold", "ink=0.2")  # fmt: skip
    assert (
        wrong.exit_code == 2
        and "the scores are blur, pen, fold, bubble, background" in wrong.output
    )
    result = atlaspatch("segment-and-get-coords", slide.slide.path, "-o", tmp_path, *PATCH,
                        "--artifact-threshold", "fold=1")  # fmt: skip
    assert result.exit_code == 0, result.output
    with h5py.File(tmp_path / "patches" / f"{slide.slide.path.stem}.h5") as h5:
        assert json.loads(h5["qc"].attrs["thresholds"])["fold"] == 1.0
        fold = h5["qc"]["fold"][...]
        assert fold.max() > DEFAULT_THRESHOLDS["fold"]  # flagged under the default, not now
        usable_now = h5["qc"]["usable"][...]
    assert usable_now[fold >= DEFAULT_THRESHOLDS["fold"]].any()


def test_the_mask_leaves_out_faint_pen_and_the_scan_areas_glass(slide, tmp_path) -> None:
    result = atlaspatch("segment-and-get-coords", slide.slide.path, "-o", tmp_path, *PATCH)
    assert result.exit_code == 0, result.output
    with h5py.File(tmp_path / "patches" / f"{slide.slide.path.stem}.h5") as h5:
        kept = {tuple(xy) for xy in h5["coords"][:, :2]}
    height, width = slide.slide.height, slide.slide.width
    grid = np.array(
        [
            (x, y)
            for y in range(0, height - SIZE0 + 1, SIZE0)
            for x in range(0, width - SIZE0 + 1, SIZE0)
        ]
    )
    shares, tissue = slide.shares(grid, SIZE0), slide.tissue_shares(grid, SIZE0)
    was_kept = np.array([tuple(xy) in kept for xy in grid])
    glass = tissue == 0
    for code in (a.GREY_BAND, *a.FAINT_PENS):
        mostly = glass & (shares[:, code] >= 0.2)
        assert mostly.sum() >= 3 and was_kept[mostly].mean() <= 0.05, code
    assert was_kept[tissue >= 0.5].mean() >= 0.97
