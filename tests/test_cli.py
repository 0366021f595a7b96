"""The `atlaspatch` commands end to end, in one process, on real and synthetic slides."""

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
from tests.conftest import BAD, SLIDES, TILES


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if ".partial" in p.name]


@pytest.mark.shared_data
def test_folder_of_real_slides_goes_on_past_failures(tmp_path: Path) -> None:
    mpp_csv = tmp_path / "mpp.csv"
    mpp_csv.write_text("wsi,mpp\nTCGA-CR-7395-01A-01-TS1.svs,0.25\nboxes.tiff,0.5\n")
    result = coords_run(SLIDES, tmp_path / "out", "--mpp-csv", mpp_csv)
    assert result.exit_code == 1
    done = sorted(p.stem for p in (tmp_path / "out" / "patches").glob("*.h5"))
    assert done == ["CMU-1-Small-Region", "TCGA-CR-7395-01A-01-TS1", "dicom-cmu-1-small-region"]
    assert (
        "FAILED   small.svs: the slide (16x16 px at level 0) is smaller than one patch"
        in result.output
    )
    assert "FAILED   boxes.tiff: the slide (300x250 px at level 0) is smaller" in result.output
    assert "FAILED   hamamatsu-fluorescence-dapi.ndpi: no tissue found" in result.output
    assert "3 done, 0 skipped, 3 failed of 6 slides" in result.output
    assert not leftovers(tmp_path)


@pytest.mark.shared_data
def test_bad_slides_fail_one_by_one_with_reasons(tmp_path: Path) -> None:
    result = coords_run(BAD, tmp_path / "out")
    assert result.exit_code == 1
    assert "FAILED   broken.svs: OpenSlide cannot open it" in result.output
    assert "FAILED   unopenable.tiff: OpenSlide cannot open it" in result.output
    assert "FAILED   unreadable.svs: reading pixels failed" in result.output
    assert not (tmp_path / "out" / "patches").exists() or not any(
        (tmp_path / "out" / "patches").iterdir()
    )


@pytest.mark.shared_data
def test_missing_mpp_names_the_slide_and_the_fix(tmp_path: Path) -> None:
    result = coords_run(SLIDES / "TCGA-CR-7395-01A-01-TS1.svs", tmp_path)
    assert result.exit_code == 1
    assert "TCGA-CR-7395-01A-01-TS1.svs: no magnification" in result.output
    assert "--mpp-csv" in result.output


@pytest.mark.shared_data
def test_dicom_series_gives_the_same_patches_as_the_svs_of_the_same_scan(tmp_path: Path) -> None:
    # The DICOM frames are YCbCr labelled RGB; once read in true colour, the mask agrees.
    assert coords_run(SLIDES / "CMU-1-Small-Region.svs", tmp_path).exit_code == 0
    assert coords_run(SLIDES / "dicom-cmu-1-small-region", tmp_path).exit_code == 0
    with (
        h5py.File(tmp_path / "patches" / "CMU-1-Small-Region.h5") as svs,
        h5py.File(tmp_path / "patches" / "dicom-cmu-1-small-region.h5") as dicom,
    ):
        a, b = {tuple(r) for r in svs["coords"][:, :2]}, {tuple(r) for r in dicom["coords"][:, :2]}
    assert len(a & b) >= 0.9 * max(len(a), len(b))


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


@pytest.mark.shared_data
def test_mpp_override_changes_patch_geometry(tmp_path: Path) -> None:
    mpp_csv = tmp_path / "mpp.csv"
    mpp_csv.write_text("wsi,mpp\nCMU-1-Small-Region,0.25\n")
    assert coords_run(SLIDES / "CMU-1-Small-Region.svs", tmp_path / "plain").exit_code == 0
    assert (
        coords_run(
            SLIDES / "CMU-1-Small-Region.svs", tmp_path / "override", "--mpp-csv", mpp_csv
        ).exit_code
        == 0
    )
    with (
        h5py.File(tmp_path / "plain/patches/CMU-1-Small-Region.h5") as plain,
        h5py.File(tmp_path / "override/patches/CMU-1-Small-Region.h5") as override,
    ):
        assert plain.attrs["patch_size_level0"] == 256 and plain["coords"][0, 2] == 256
        assert override.attrs["level0_magnification"] == 40 and override.attrs["mpp"] == 0.25
        assert override.attrs["patch_size_level0"] == 512 and override["coords"][0, 2] == 512
        assert len(override["coords"]) < len(plain["coords"])


@pytest.mark.shared_data
def test_plain_image_needs_and_uses_an_mpp(tmp_path: Path) -> None:
    tile = TILES / "tissue-level0-4302-10273-4814-10785.png"
    small_patches = ("--patch-size", "64")  # a later option wins over coords_run's 256
    result = coords_run(tile, tmp_path, *small_patches)
    assert result.exit_code == 1 and "no magnification" in result.output
    mpp_csv = tmp_path / "mpp.csv"
    mpp_csv.write_text(f"wsi,mpp\n{tile.name},0.25\n")
    result = coords_run(tile, tmp_path, *small_patches, "--mpp-csv", mpp_csv)
    assert result.exit_code == 0, result.output
    with h5py.File(tmp_path / "patches" / f"{tile.stem}.h5") as f:
        assert f.attrs["patch_size_level0"] == 128 and len(f["coords"]) > 0


def test_existing_output_is_skipped_unless_forced(tmp_path: Path, synthetic_slide) -> None:
    h5_path = tmp_path / "patches" / "synthetic-40x.h5"
    assert coords_run(synthetic_slide.path, tmp_path).exit_code == 0
    first = h5_path.stat().st_mtime_ns
    again = coords_run(synthetic_slide.path, tmp_path, "--skip-existing")
    assert again.exit_code == 0 and "skipped  synthetic-40x.tiff: output exists" in again.output
    assert h5_path.stat().st_mtime_ns == first
    forced = coords_run(synthetic_slide.path, tmp_path, "--force")
    assert forced.exit_code == 0 and h5_path.stat().st_mtime_ns != first


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


def test_tissue_thresh_drops_small_fragments(tmp_path: Path, synthetic_slide) -> None:
    assert (
        coords_run(
            synthetic_slide.path, tmp_path / "all", "--min-tissue-fraction", "0.01"
        ).exit_code
        == 0
    )
    assert (
        coords_run(
            synthetic_slide.path,
            tmp_path / "big",
            "--min-tissue-fraction",
            "0.01",
            "--tissue-thresh",
            "0.01",
        ).exit_code
        == 0
    )
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


def test_missing_path_and_empty_folder_are_clear(tmp_path: Path) -> None:
    result = coords_run(tmp_path / "nope", tmp_path / "out")
    assert result.exit_code != 0 and "does not exist" in result.output
    (tmp_path / "empty").mkdir()
    result = coords_run(tmp_path / "empty", tmp_path / "out")
    assert result.exit_code != 0 and "no supported slides" in result.output


@pytest.mark.shared_data
def test_info_prints_levels_and_scale() -> None:
    result = run("info", SLIDES / "hamamatsu-fluorescence-dapi.ndpi")
    assert result.exit_code == 0
    assert "vendor:  hamamatsu" in result.output and "magnification: 40x" in result.output
    assert "6: 62 x 76  downsample 64.000" in result.output


def test_synthetic_slide_without_scale_fails_until_given_an_mpp(tmp_path: Path) -> None:
    from orchestrator.synthetic import write_synthetic_slide

    slide = write_synthetic_slide(
        tmp_path / "unscaled.svs", width=3000, height=2000, magnification=None, mpp=None
    )
    failed = coords_run(slide.path, tmp_path / "out")
    assert failed.exit_code == 1 and "FAILED   unscaled.svs: no magnification" in failed.output
    mpp_csv = tmp_path / "mpp.csv"
    mpp_csv.write_text("wsi,mpp\nunscaled,0.5\n")
    assert coords_run(slide.path, tmp_path / "out", "--mpp-csv", mpp_csv).exit_code == 0
    with h5py.File(tmp_path / "out" / "patches" / "unscaled.h5") as f:
        assert f.attrs["level0_magnification"] == 20 and f.attrs["patch_size_level0"] == 256
