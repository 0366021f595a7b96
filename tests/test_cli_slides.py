"""The `atlaspatch` commands on folders of real slides, on bad input, and on slides without a
scale that need --mpp-csv."""

from __future__ import annotations

from pathlib import Path

import h5py
import pytest

from tests.cli import atlaspatch as run
from tests.cli import coords_run
from tests.conftest import BAD, SLIDES, TILES
from tests.output_helpers import leftovers


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
def test_an_empty_mask_fails_in_every_command_with_a_hint_for_dark_slides(
    tmp_path: Path,
) -> None:
    """A fluorescence slide (dark field) gets no tissue from models made for brightfield: it
    fails, saying so, in detect-tissue too (its mask picture is still written to look at)."""
    slide = SLIDES / "hamamatsu-fluorescence-dapi.ndpi"
    masks = run("detect-tissue", slide, "-o", tmp_path / "masks", "--tissue-model", "otsu")
    coords = coords_run(slide, tmp_path / "coords")
    for result in (masks, coords):
        assert result.exit_code == 1
        assert (
            "FAILED   hamamatsu-fluorescence-dapi.ndpi: no tissue found: the tissue mask is "
            "empty; the slide is dark, as fluorescence slides are" in result.output
        ), result.output
    assert list((tmp_path / "masks" / "visualization").glob("*mask*"))


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
    from atlaspatch.orchestrator.synthetic import write_synthetic_slide

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
