"""`atlaspatch process` on existing output: matching coordinates reused, mismatched ones
refused unless forced, --force recomputing only the named feature sets, feature sets removed
only when asked, a run that dies leaves no result and the next resumes, a failed addition
keeps the file."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from tests.cli import coords_run
from tests.cli import process_run as process
from tests.output_helpers import reports
from tests.process_helpers import PLUGIN

LITE = ("--feature-extractors", "efficientnet_lite0")


def with_plugin(plugin: Path) -> tuple:
    """Options adding the plugin's encoder to efficientnet_lite0."""
    return ("--feature-extractors", "efficientnet_lite0,my_encoder", "--feature-plugin", plugin)


def test_adding_an_encoder_reuses_matching_coordinates(tmp_path: Path, synthetic_slide) -> None:
    plugin = tmp_path / "plugin.py"
    plugin.write_text(PLUGIN)
    coords_only = coords_run(synthetic_slide.path, tmp_path)
    assert coords_only.exit_code == 0
    h5_path = tmp_path / "patches" / "synthetic-40x.h5"
    with h5py.File(h5_path) as f:
        coords, created = f["coords"][...], f.attrs["creation_date"]

    first = process(synthetic_slide.path, tmp_path, "--feature-extractors", "efficientnet_lite0")
    assert first.exit_code == 0, first.output
    second = process(synthetic_slide.path, tmp_path, *with_plugin(plugin))
    assert second.exit_code == 0, second.output
    assert "added features/my_encoder; kept features/efficientnet_lite0" in second.output
    with h5py.File(h5_path) as f:
        assert np.array_equal(f["coords"][...], coords) and f.attrs["creation_date"] == created
        assert sorted(f["features"]) == ["efficientnet_lite0", "my_encoder"]
    again = process(synthetic_slide.path, tmp_path, "--feature-extractors", "efficientnet_lite0")
    assert again.exit_code == 0 and "coordinates and features exist" in again.output


def test_mismatched_coordinates_are_refused_unless_forced(tmp_path: Path, synthetic_slide) -> None:
    assert process(synthetic_slide.path, tmp_path, *LITE).exit_code == 0
    other_step = (*LITE, "--step-size", "128")
    other = process(synthetic_slide.path, tmp_path, *other_step)
    assert other.exit_code == 1
    assert (
        "other parameters (step_size None there, 128 asked)" in other.output
        and "--force" in other.output
    )
    forced = process(synthetic_slide.path, tmp_path, *other_step, "--force")
    assert forced.exit_code == 0
    assert "replaced synthetic-40x.h5 (step_size None there, 128 asked)" in forced.output
    with h5py.File(tmp_path / "patches" / "synthetic-40x.h5") as f:
        assert f.attrs["overlap"] == 128 and len(f["features/efficientnet_lite0"]) == len(
            f["coords"]
        )


FAILING_PLUGIN = PLUGIN.replace(
    "        return model(batch)  # must return [batch, embedding_dim]",
    "        calls.append(1)\n"
    "        if len(calls) == 2:\n"
    "            raise RuntimeError('GPU fell off')\n"
    "        return model(batch)",
).replace("import torch\n", "import torch\ncalls = []\n", 1)


def test_a_run_that_dies_mid_slide_leaves_no_result_and_the_next_resumes(
    tmp_path: Path, synthetic_slide
) -> None:
    failing, working = tmp_path / "failing.py", tmp_path / "working.py"
    failing.write_text(FAILING_PLUGIN)
    working.write_text(PLUGIN)
    out = tmp_path / "out"
    # --feature-batch-size 8 (tests.cli): the first batch is written, the second fails.
    args = ("--feature-extractors", "my_encoder", "--feature-plugin")
    result = process(synthetic_slide.path, out, *args, failing)
    assert result.exit_code == 1 and "GPU fell off" in result.output
    # No result under its final name; a hidden leftover the next run can finish.
    assert [p.name for p in (out / "patches").iterdir()] == [".synthetic-40x.h5.partial"]
    resumed = process(synthetic_slide.path, out, *args, working)
    assert resumed.exit_code == 0, resumed.output
    assert "resumed at patch 8 of" in resumed.output
    assert [p.name for p in (out / "patches").iterdir()] == ["synthetic-40x.h5"]
    clean = process(synthetic_slide.path, tmp_path / "clean", *args, working)
    assert clean.exit_code == 0, clean.output
    with (
        h5py.File(out / "patches/synthetic-40x.h5") as a,
        h5py.File(tmp_path / "clean/patches/synthetic-40x.h5") as b,
    ):
        assert np.array_equal(a["coords"][...], b["coords"][...])
        assert np.array_equal(a["features/my_encoder"][...], b["features/my_encoder"][...])
        assert a.attrs["num_patches"] == b.attrs["num_patches"] == len(b["coords"])


def test_a_failed_addition_keeps_the_existing_file(tmp_path: Path, synthetic_slide) -> None:
    assert process(synthetic_slide.path, tmp_path, *LITE).exit_code == 0
    h5_path = tmp_path / "patches" / "synthetic-40x.h5"
    before = h5_path.read_bytes()
    plugin = tmp_path / "plugin.py"
    plugin.write_text(FAILING_PLUGIN)
    result = process(synthetic_slide.path, tmp_path, *with_plugin(plugin))
    assert result.exit_code == 1
    assert h5_path.read_bytes() == before
    assert [p.name for p in (tmp_path / "patches").iterdir()] == ["synthetic-40x.h5"]


def test_force_recomputes_only_the_named_feature_sets(tmp_path: Path, synthetic_slide) -> None:
    plugin = tmp_path / "plugin.py"
    plugin.write_text(PLUGIN)
    assert process(synthetic_slide.path, tmp_path, *with_plugin(plugin)).exit_code == 0
    h5_path = tmp_path / "patches" / "synthetic-40x.h5"
    with h5py.File(h5_path, "r+") as f:
        lite, mine = f["features/efficientnet_lite0"][...], f["features/my_encoder"][...]
        f["features/efficientnet_lite0"][...] = 0  # what a recomputation must undo

    forced = process(synthetic_slide.path, tmp_path, *LITE, "--force")
    assert forced.exit_code == 0, forced.output
    assert "replaced features/efficientnet_lite0; kept features/my_encoder" in forced.output
    with h5py.File(h5_path) as f:
        assert sorted(f["features"]) == ["efficientnet_lite0", "my_encoder"]
        np.testing.assert_allclose(f["features/efficientnet_lite0"][...], lite, atol=1e-5)
        assert np.array_equal(f["features/my_encoder"][...], mine)


def test_feature_sets_are_removed_only_when_asked(tmp_path: Path, synthetic_slide) -> None:
    plugin = tmp_path / "plugin.py"
    plugin.write_text(PLUGIN)
    assert process(synthetic_slide.path, tmp_path, *with_plugin(plugin)).exit_code == 0
    h5_path = tmp_path / "patches" / "synthetic-40x.h5"
    with h5py.File(h5_path) as f:
        lite, coords = f["features/efficientnet_lite0"][...], f["coords"][...]

    both = process(synthetic_slide.path, tmp_path, *LITE, "--remove-features", "efficientnet_lite0")
    assert both.exit_code == 2 and "use --force" in both.output
    removed = process(synthetic_slide.path, tmp_path, *LITE, "--remove-features", "my_encoder")
    assert removed.exit_code == 0, removed.output
    assert "skipped  synthetic-40x.tiff: removed features/my_encoder; coordinates and" in (
        removed.output
    )
    with h5py.File(h5_path) as f:
        assert list(f["features"]) == ["efficientnet_lite0"]
        assert list(f["feature_checksums"]) == ["efficientnet_lite0"]
        assert np.array_equal(f["features/efficientnet_lite0"][...], lite)
        assert np.array_equal(f["coords"][...], coords)
    again = process(synthetic_slide.path, tmp_path, *LITE, "--remove-features", "my_encoder")
    assert again.exit_code == 0 and "removed features" not in again.output
    assert "no features/my_encoder to remove" in again.output


def test_coordinates_made_again_name_what_they_drop(tmp_path: Path, synthetic_slide) -> None:
    assert process(synthetic_slide.path, tmp_path, *LITE).exit_code == 0
    forced = coords_run(synthetic_slide.path, tmp_path, "--force")
    assert forced.exit_code == 0, forced.output
    said = "replaced synthetic-40x.h5 (its coordinates are made again); dropped " + (
        "features/efficientnet_lite0"
    )
    assert said in forced.output
    (entry,) = [r for r in reports(tmp_path) if r["command"] == "segment-and-get-coords"]
    assert said in entry["slides"][0]["reason"]
    with h5py.File(tmp_path / "patches" / "synthetic-40x.h5") as f:
        assert "features" not in f


def test_coordinates_of_an_older_tissue_mask_are_not_reused(tmp_path: Path, synthetic_slide):
    from atlaspatch.segmenter_service.otsu import MASK_VERSION

    assert coords_run(synthetic_slide.path, tmp_path).exit_code == 0
    h5_path = tmp_path / "patches" / "synthetic-40x.h5"
    with h5py.File(h5_path, "r+") as f:
        segmenter = json.loads(f.attrs["segmenter"])
        assert segmenter.pop("mask_version") == MASK_VERSION
        f.attrs["segmenter"] = json.dumps(segmenter)  # as files made before it was recorded
    again = coords_run(synthetic_slide.path, tmp_path)
    assert again.exit_code == 1
    why = f"masks of version 1 there, {MASK_VERSION} asked (the otsu model has changed)"
    assert why in again.output and "--force" in again.output
    forced = coords_run(synthetic_slide.path, tmp_path, "--force")
    assert forced.exit_code == 0 and why in forced.output
    with h5py.File(h5_path) as f:
        assert json.loads(f.attrs["segmenter"])["mask_version"] == MASK_VERSION
    assert "output exists" in coords_run(synthetic_slide.path, tmp_path).output
