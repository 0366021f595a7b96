"""What `atlaspatch` writes: the HDF5 layout and attributes, output the reference README's
example reads, skip-existing and --force, patch images, and mask pictures."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import h5py
import numpy as np
import openslide
import pytest

from tests.cli import atlaspatch as run
from tests.cli import coords_run
from tests.conftest import SLIDES
from tests.output_helpers import leftovers


def test_h5_layout_and_attributes(tmp_path: Path, synthetic_slide) -> None:
    result = coords_run(synthetic_slide.path, tmp_path, "--step-size", "128", "--write-batch", "7")
    assert result.exit_code == 0, result.output
    with h5py.File(tmp_path / "patches" / "synthetic-40x.h5") as f:
        coords = f["coords"][...]
        attrs = dict(f.attrs)
        assert f["coords"].dtype == np.int32 and coords.shape[1] == 5
        assert f["tissue_fraction"].shape == (len(coords),)
        assert (f["tissue_fraction"][...] >= 0.5).all()
    # 40x slide with levels 1, 4, 16 and a 20x target: read 512 px at level 0, resize to 256.
    assert (coords[:, 2] == 512).all() and (coords[:, 3] == 512).all() and (coords[:, 4] == 0).all()
    assert (coords[:, 0] % 256 == 0).all() and (
        coords[:, 1] % 256 == 0
    ).all()  # 128 px steps at 20x
    assert len(np.unique(coords[:, :2], axis=0)) == len(coords)
    assert attrs["patch_size"] == 256 and attrs["patch_size_level0"] == 512
    assert attrs["level0_magnification"] == 40 and attrs["target_magnification"] == 20
    assert attrs["overlap"] == 128 and attrs["mpp"] == pytest.approx(0.25)
    assert (attrs["level0_width"], attrs["level0_height"]) == (8000, 6000)
    assert attrs["num_patches"] == len(coords)
    assert attrs["filename"] == "synthetic-40x.tiff" and attrs["wsi_path"] == str(
        synthetic_slide.path
    )
    assert attrs["tissue_model"] == "otsu" and attrs["creation_date"].startswith("20")
    parameters = json.loads(attrs["parameters"])
    assert parameters["step_size"] == 128 and parameters["write_batch"] == 7


def test_write_batch_does_not_change_the_result(tmp_path: Path, synthetic_slide) -> None:
    assert coords_run(synthetic_slide.path, tmp_path / "a", "--write-batch", "3").exit_code == 0
    assert coords_run(synthetic_slide.path, tmp_path / "b").exit_code == 0
    with (
        h5py.File(tmp_path / "a/patches/synthetic-40x.h5") as a,
        h5py.File(tmp_path / "b/patches/synthetic-40x.h5") as b,
    ):
        assert np.array_equal(a["coords"][...], b["coords"][...])


@pytest.mark.shared_data
def test_spec_reading_example_works_on_our_output(tmp_path: Path) -> None:
    assert coords_run(SLIDES / "CMU-1-Small-Region.svs", tmp_path).exit_code == 0
    # The reference README's example, with only its two paths filled in.
    from PIL import Image

    h5_path = str(tmp_path / "patches" / "CMU-1-Small-Region.h5")
    wsi_path = str(SLIDES / "CMU-1-Small-Region.svs")
    patches = []
    with h5py.File(h5_path, "r") as f:
        coords = f["coords"][...]
        patch_size = int(f.attrs["patch_size"])
    with openslide.OpenSlide(wsi_path) as wsi:
        for x, y, read_w, read_h, level in coords:
            img = wsi.read_region((int(x), int(y)), int(level), (int(read_w), int(read_h))).convert(
                "RGB"
            )
            if img.size != (patch_size, patch_size):
                img = img.resize((patch_size, patch_size), resample=Image.BILINEAR)
            patches.append(np.array(img))
    assert len(patches) == len(coords) > 10
    assert all(p.shape == (256, 256, 3) for p in patches)


def test_existing_output_is_skipped_unless_forced(tmp_path: Path, synthetic_slide) -> None:
    h5_path = tmp_path / "patches" / "synthetic-40x.h5"
    assert coords_run(synthetic_slide.path, tmp_path).exit_code == 0
    first = h5_path.stat().st_mtime_ns
    again = coords_run(synthetic_slide.path, tmp_path, "--skip-existing")
    assert again.exit_code == 0 and "skipped  synthetic-40x.tiff: output exists" in again.output
    assert h5_path.stat().st_mtime_ns == first
    forced = coords_run(synthetic_slide.path, tmp_path, "--force")
    assert forced.exit_code == 0 and h5_path.stat().st_mtime_ns != first


def test_save_images_writes_each_kept_patch(tmp_path: Path, synthetic_slide) -> None:
    assert coords_run(synthetic_slide.path, tmp_path, "--save-images").exit_code == 0
    with h5py.File(tmp_path / "patches" / "synthetic-40x.h5") as f:
        coords = f["coords"][...]
    images = sorted((tmp_path / "images" / "synthetic-40x").glob("*.png"))
    assert len(images) == len(coords)
    x, y, w, h, level = coords[len(coords) // 2]
    saved = cv2.cvtColor(
        cv2.imread(str(tmp_path / "images" / "synthetic-40x" / f"synthetic-40x_x{x}_y{y}.png")),
        cv2.COLOR_BGR2RGB,
    )
    direct = np.asarray(
        openslide.OpenSlide(str(synthetic_slide.path))
        .read_region((int(x), int(y)), int(level), (int(w), int(h)))
        .convert("RGB")
    )
    expected = cv2.resize(direct, (256, 256), interpolation=cv2.INTER_LINEAR)
    assert np.abs(saved.astype(int) - expected.astype(int)).mean() < 1.0
    assert not leftovers(tmp_path)


def test_visualizations_are_written_when_asked(tmp_path: Path, synthetic_slide) -> None:
    result = coords_run(
        synthetic_slide.path,
        tmp_path,
        "--visualize-mask",
        "--visualize-contours",
        "--visualize-grids",
    )
    assert result.exit_code == 0
    names = sorted(p.name for p in (tmp_path / "visualization").iterdir())
    assert names == [
        "synthetic-40x_contours.png",
        "synthetic-40x_grid.png",
        "synthetic-40x_mask.png",
        "synthetic-40x_mask_bw.png",
    ]
    bw = cv2.imread(
        str(tmp_path / "visualization" / "synthetic-40x_mask_bw.png"), cv2.IMREAD_GRAYSCALE
    )
    assert set(np.unique(bw)) == {0, 255}


def test_detect_tissue_writes_mask_pictures_only(tmp_path: Path, synthetic_slide) -> None:
    result = run(
        "detect-tissue",
        synthetic_slide.path,
        "-o",
        tmp_path,
        "--tissue-model",
        "otsu",
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "visualization").iterdir()) == [
        "synthetic-40x_mask.png",
        "synthetic-40x_mask_bw.png",
    ]
    assert not (tmp_path / "patches").exists()


def test_slide_paths_are_stored_absolute_or_relative_to_a_root(
    tmp_path: Path, synthetic_slide, monkeypatch: pytest.MonkeyPatch
) -> None:
    slide = synthetic_slide.path.absolute()
    monkeypatch.chdir(slide.parent)
    result = coords_run(Path(slide.name), tmp_path / "absolute")  # given relative
    assert result.exit_code == 0, result.output
    with h5py.File(tmp_path / "absolute/patches/synthetic-40x.h5") as h5:
        assert h5.attrs["wsi_path"] == str(slide)
    report = json.loads(next((tmp_path / "absolute/reports").glob("*.json")).read_text())
    assert [entry["slide"] for entry in report["slides"]] == [str(slide)]
    result = coords_run(slide, tmp_path / "relative", "--wsi-path-root", slide.parent.parent)
    assert result.exit_code == 0, result.output
    with h5py.File(tmp_path / "relative/patches/synthetic-40x.h5") as h5:
        assert h5.attrs["wsi_path"] == f"{slide.parent.name}/{slide.name}"
