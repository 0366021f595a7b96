"""Batch runs report every slide, and --skip-existing refuses output made with other
parameters."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import pytest

from tests.cli import coords_run, process_run
from tests.conftest import BAD
from tests.output_helpers import reports


@pytest.mark.shared_data
def test_each_run_writes_a_report_of_every_slide(tmp_path: Path, synthetic_slide) -> None:
    folder = tmp_path / "slides"
    folder.mkdir()
    (folder / "good.tiff").symlink_to(synthetic_slide.path)
    (folder / "broken.svs").symlink_to(BAD / "broken.svs")
    out = tmp_path / "out"
    assert coords_run(folder, out).exit_code == 1
    assert coords_run(folder, out, "--skip-existing").exit_code == 1
    first, second = reports(out)
    assert first["command"] == "segment-and-get-coords" and first["pid"] == os.getpid()
    by_stem = {entry["stem"]: entry for entry in first["slides"]}
    assert by_stem["good"]["status"] == "done" and by_stem["good"]["num_patches"] > 0
    assert set(by_stem["good"]["seconds"]) == {"open_and_thumbnail", "segmentation", "finish"}
    assert by_stem["broken"]["status"] == "failed"
    assert "OpenSlide cannot open it" in by_stem["broken"]["reason"]
    assert first["counts"] == {"done": 1, "skipped": 0, "failed": 1}
    assert {e["stem"]: e["status"] for e in second["slides"]} == {
        "good": "skipped",
        "broken": "failed",
    }


def test_skip_existing_refuses_output_made_with_other_parameters(
    tmp_path: Path, synthetic_slide
) -> None:
    assert coords_run(synthetic_slide.path, tmp_path).exit_code == 0
    again = coords_run(synthetic_slide.path, tmp_path, "--skip-existing", "--step-size", "128")
    assert again.exit_code == 1
    assert "made with other parameters (step_size None there, 128 asked)" in again.output
    assert "use --force" in again.output


def test_features_of_another_features_version_are_never_mixed(
    tmp_path: Path, synthetic_slide
) -> None:
    encoder = ("--feature-extractors", "efficientnet_lite0", "--skip-existing")
    assert process_run(synthetic_slide.path, tmp_path, *encoder).exit_code == 0
    output = tmp_path / "patches" / f"{synthetic_slide.path.stem}.h5"
    with h5py.File(output, "r+") as h5:
        assert h5["features/efficientnet_lite0"].attrs["features_version"] == 1
        h5["features/efficientnet_lite0"].attrs["features_version"] = 2  # made by a later release
    again = process_run(synthetic_slide.path, tmp_path, *encoder)
    assert again.exit_code == 1
    assert "features/efficientnet_lite0 features_version 2 there, 1 asked" in again.output
    with h5py.File(output, "r+") as h5:  # written before versions were recorded: version 1
        del h5["features/efficientnet_lite0"].attrs["features_version"]
    assert process_run(synthetic_slide.path, tmp_path, *encoder).exit_code == 0


def test_existing_features_made_otherwise_are_not_reused(tmp_path: Path, synthetic_slide) -> None:
    encoder = ("--feature-extractors", "efficientnet_lite0")
    assert process_run(synthetic_slide.path, tmp_path, *encoder).exit_code == 0
    again = process_run(synthetic_slide.path, tmp_path, *encoder, "--feature-precision", "bfloat16")
    assert again.exit_code == 1
    assert "features/efficientnet_lite0 precision float32 there, bfloat16 asked" in again.output
    same = process_run(synthetic_slide.path, tmp_path, *encoder, "--skip-existing")
    assert same.exit_code == 0 and "coordinates and features exist" in same.output
