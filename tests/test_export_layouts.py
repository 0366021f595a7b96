"""`atlaspatch export --layout trident|clam`: our outputs in those tools' layouts, read back
as their own code reads them (TRIDENT at a91fa84: IO.read_coords, WSI.extract_patch_features
and WSIPatcher; CLAM at 53e2409: Whole_Slide_Bag_FP, Generic_MIL_Dataset, Dataset_All_Bags),
with OpenSlide on the real slide: the patches those readers cut are the patches we embedded,
and the features are ours, row for row."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import cv2
import h5py
import numpy as np
import openslide
import pytest
import torch

from tests.cli import atlaspatch, process_run
from tests.conftest import SLIDES

pytestmark = pytest.mark.shared_data

ENCODER = "efficientnet_lite0"
SLIDE = SLIDES / "CMU-1-Small-Region.svs"
STEM = SLIDE.stem


@pytest.fixture(scope="module")
def output(tmp_path_factory) -> Path:
    """One real slide processed, with a slide embedding (the mean of its patch features)."""
    out = tmp_path_factory.mktemp("export")
    result = process_run(SLIDE, out, "--feature-extractors", ENCODER)
    assert result.exit_code == 0, result.output
    result = atlaspatch(
        "encode-slide", SLIDE, "-o", out, "--patch-size", "256", "--target-mag", "20",
        "--tissue-model", "otsu", "--device", "cpu", "--slide-encoders", "mean",
        "--mean-patch-encoder", ENCODER,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def ours(output: Path) -> dict:
    with h5py.File(output / "patches" / f"{STEM}.h5") as h5:
        return {
            "coords": h5["coords"][...],
            "features": h5["features"][ENCODER][...],
            "slide": h5["slide_features"]["mean"][...],
            "attrs": dict(h5.attrs),
        }


def patch_as_we_read_it(coords_row: np.ndarray, patch_size: int) -> np.ndarray:
    x, y, read_w, read_h, level = (int(v) for v in coords_row)
    with openslide.OpenSlide(str(SLIDE)) as slide:
        region = np.asarray(slide.read_region((x, y), level, (read_w, read_h)).convert("RGB"))
    return cv2.resize(region, (patch_size, patch_size), interpolation=cv2.INTER_AREA)


def test_trident_reads_our_patches_features_and_slide_embedding(output, tmp_path) -> None:
    result = atlaspatch("export", output, "--layout", "trident", "--to", tmp_path)
    assert result.exit_code == 0, result.output
    mine = ours(output)
    job = tmp_path / "20x_256px_0px_overlap"

    # IO.read_coords; the attributes extract_patch_features requires, then WSIPatcher's read.
    with h5py.File(job / "patches" / f"{STEM}_patches.h5", "r") as f:
        attrs, coords = dict(f["coords"].attrs), f["coords"][:]
    assert coords.dtype == np.int64 and coords.shape == (len(mine["coords"]), 2)
    np.testing.assert_array_equal(coords, mine["coords"][:, :2])
    patch_size = int(attrs["patch_size"])
    src_mag, dst_mag = attrs["level0_magnification"], attrs["target_magnification"]
    level0_read = round(patch_size * src_mag / dst_mag)
    assert level0_read == int(attrs["patch_size_level0"])
    assert attrs["name"] == STEM and int(attrs["overlap"]) == 0
    assert (attrs["level0_width"], attrs["level0_height"]) == openslide.OpenSlide(
        str(SLIDE)
    ).dimensions
    with openslide.OpenSlide(str(SLIDE)) as slide:
        for index in (0, len(coords) // 2, len(coords) - 1):
            x, y = (int(v) for v in coords[index])
            region = slide.read_region((x, y), 0, (level0_read, level0_read)).convert("RGB")
            theirs = cv2.resize(np.asarray(region), (patch_size,) * 2, interpolation=cv2.INTER_AREA)
            mine_patch = patch_as_we_read_it(mine["coords"][index], patch_size)
            assert np.abs(theirs.astype(int) - mine_patch).mean() < 3

    # The features file, as the slide encoders and TRIDENT's own tests read it.
    with h5py.File(job / f"features_{ENCODER}" / f"{STEM}.h5", "r") as f:
        assert f["features"].shape == (len(coords), mine["features"].shape[1])
        np.testing.assert_array_equal(f["features"][:], mine["features"])
        np.testing.assert_array_equal(f["coords"][:], coords)
        assert f["features"].attrs["encoder"] == ENCODER and f["features"].attrs["name"] == STEM
        assert int(dict(f["coords"].attrs)["patch_size_level0"]) == level0_read
    with h5py.File(job / "slide_features_mean" / f"{STEM}.h5", "r") as f:
        np.testing.assert_array_equal(f["features"][:], mine["slide"])
        np.testing.assert_allclose(f["features"][:], mine["features"].mean(0), rtol=1e-5)


def test_clam_reads_our_patches_and_features(output, tmp_path) -> None:
    result = atlaspatch("export", output, "--layout", "clam", "--to", tmp_path)
    assert result.exit_code == 0, result.output
    mine = ours(output)
    patch_size_out = int(mine["attrs"]["patch_size"])

    # Dataset_All_Bags: the slide ids of process_list_autogen.csv, extension stripped.
    with open(tmp_path / "process_list_autogen.csv", newline="") as file:
        slide_ids = [row["slide_id"].split(".svs")[0] for row in csv.DictReader(file)]
    assert slide_ids == [STEM]

    # Whole_Slide_Bag_FP: coords with patch_level and patch_size, read_region at that level.
    with h5py.File(tmp_path / "patches" / f"{STEM}.h5", "r") as f:
        dset = f["coords"]
        patch_level, patch_size = dset.attrs["patch_level"], dset.attrs["patch_size"]
        coords = dset[:]
        assert dset.attrs["name"] == STEM
    np.testing.assert_array_equal(coords, mine["coords"][:, :2])
    with openslide.OpenSlide(str(SLIDE)) as wsi:
        for index in (0, len(coords) - 1):
            img = wsi.read_region(tuple(coords[index]), patch_level, (patch_size, patch_size))
            theirs = cv2.resize(
                np.asarray(img.convert("RGB")), (patch_size_out,) * 2, interpolation=cv2.INTER_AREA
            )
            np.testing.assert_array_equal(
                theirs, patch_as_we_read_it(mine["coords"][index], patch_size_out)
            )

    # Generic_MIL_Dataset: torch.load of pt_files, or features and coords from h5_files.
    data_dir = tmp_path / f"features_{ENCODER}"
    features = torch.load(os.path.join(data_dir, "pt_files", f"{STEM}.pt"))
    assert isinstance(features, torch.Tensor) and features.dtype == torch.float32
    np.testing.assert_array_equal(features.numpy(), mine["features"])
    with h5py.File(os.path.join(data_dir, "h5_files", f"{STEM}.h5"), "r") as hdf5_file:
        np.testing.assert_array_equal(hdf5_file["features"][:], mine["features"])
        assert hdf5_file["coords"].dtype == np.int32
        np.testing.assert_array_equal(hdf5_file["coords"][:], mine["coords"][:, :2])


def test_a_damaged_file_fails_alone_and_leaves_nothing_half_written(output, tmp_path) -> None:
    root = tmp_path / "root"
    (root / "patches").mkdir(parents=True)
    good = root / "patches" / f"{STEM}.h5"
    good.write_bytes((output / "patches" / f"{STEM}.h5").read_bytes())
    damaged = root / "patches" / "damaged.h5"
    damaged.write_bytes(good.read_bytes()[:5000])
    result = atlaspatch("export", root, "--layout", "clam", "--no-pt")
    assert result.exit_code == 1
    assert f"FAILED   {damaged}: it cannot be read" in result.output
    assert "1 slides exported" in result.output
    written = sorted(
        p.relative_to(root / "clam").as_posix() for p in (root / "clam").rglob("*") if p.is_file()
    )
    assert written == [
        f"features_{ENCODER}/h5_files/{STEM}.h5",
        f"patches/{STEM}.h5",
        "process_list_autogen.csv",
    ]


def test_a_feature_set_a_slide_lacks_is_its_failure(output, tmp_path) -> None:
    result = atlaspatch(
        "export", output, "--layout", "trident", "--to", tmp_path,
        "--feature-extractors", f"{ENCODER},resnet50",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "it has no complete features/resnet50" in result.output
    assert not any(tmp_path.rglob("*.h5"))
