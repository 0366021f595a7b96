"""What AtlasPatch's users bring along works unchanged: their plugin files."""

from __future__ import annotations

import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from atlaspatch.encoder_service.plugins.loading import load_plugin
from atlaspatch.encoder_service.registry import EncoderRegistry
from tests.cli import process_run
from tests.process_helpers import PLUGIN

# The reference README's plugin, as its users write it: AtlasPatch's import, and (optional
# there) no forward_fn.
REFERENCE_PLUGIN = PLUGIN.replace(
    "from atlaspatch.encoder_service.custom import",
    "from atlas_patch.models.patch.custom import",
).replace(
    "    return CustomEncoderComponents(model=model, preprocess=preprocess, forward_fn=forward)",
    "    return CustomEncoderComponents(model=model, preprocess=preprocess)",
)


def test_an_atlaspatch_plugin_file_loads_unchanged_and_embeds_as_ours(
    tmp_path: Path, synthetic_slide
) -> None:
    assert "atlas_patch" in REFERENCE_PLUGIN and "forward_fn=" not in REFERENCE_PLUGIN
    theirs, ours = tmp_path / "theirs.py", tmp_path / "ours.py"
    theirs.write_text(REFERENCE_PLUGIN)
    ours.write_text(PLUGIN)
    results = {}
    for plugin in (theirs, ours):
        out = tmp_path / plugin.stem
        run = process_run(
            synthetic_slide.path, out, "--feature-extractors", "my_encoder",
            "--feature-plugin", plugin,
        )  # fmt: skip
        assert run.exit_code == 0, run.output
        with h5py.File(out / "patches/synthetic-40x.h5") as h5:
            results[plugin.stem] = h5["features/my_encoder"][...]
    assert results["theirs"].shape[1] == 512
    np.testing.assert_array_equal(results["theirs"], results["ours"])


def test_an_installed_atlaspatch_is_not_shadowed(tmp_path: Path, monkeypatch) -> None:
    package = tmp_path / "site" / "atlas_patch"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("REAL = True\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    for name in [n for n in sys.modules if n.split(".")[0] == "atlas_patch"]:
        monkeypatch.delitem(sys.modules, name)
    plugin = tmp_path / "theirs.py"
    plugin.write_text(REFERENCE_PLUGIN)
    import torch

    assert load_plugin(plugin, EncoderRegistry(), "cpu", torch.float32, 1) == ["my_encoder"]
    import atlas_patch

    assert atlas_patch.REAL  # the installed package, not the plugin-time alias
    with pytest.raises(ModuleNotFoundError):
        import atlas_patch.models.patch.custom  # noqa: F401  # not in the stand-in package


@pytest.mark.shared_data
def test_a_dicom_series_records_a_wsi_path_openslide_opens(tmp_path: Path) -> None:
    import openslide

    from tests.cli import coords_run
    from tests.conftest import SLIDES

    folder = SLIDES / "dicom-cmu-1-small-region"
    assert coords_run(folder, tmp_path).exit_code == 0
    with h5py.File(tmp_path / "patches/dicom-cmu-1-small-region.h5") as h5:
        wsi_path = Path(h5.attrs["wsi_path"])
        x, y, read_w, read_h, level = (int(v) for v in h5["coords"][0])
    assert wsi_path.parent == folder and wsi_path.suffix == ".dcm"
    with openslide.OpenSlide(str(wsi_path)) as wsi:  # the reference's reading example
        region = wsi.read_region((x, y), level, (read_w, read_h))
    assert region.size == (read_w, read_h)


def _as_atlaspatch_wrote_it(ours: Path, theirs: Path) -> None:
    """Our coordinates in AtlasPatch 1.1.0's layout: its datasets (coords, passports), its
    file attributes, and none of ours."""
    with h5py.File(ours) as h5:
        coords, attrs = h5["coords"][...], dict(h5.attrs)
    stem, total = ours.stem, len(coords)
    passports = [
        f"{stem}__x{x}_y{y}_rw{rw}_rh{rh}_lv{lv}_mag40_tmag20_total{total}"
        for x, y, rw, rh, lv in coords
    ]
    with h5py.File(theirs, "w") as h5:
        h5.create_dataset("coords", data=coords, maxshape=(None, 5), chunks=(8192, 5))
        h5.create_dataset("passports", data=np.asarray(passports, dtype="S160"))
        h5.attrs.update(
            {
                "patch_size": 256,
                "patch_size_level0": int(attrs["patch_size_level0"]),
                "level0_magnification": 40,
                "target_magnification": 20,
                "overlap": 0,
                "level0_width": int(attrs["level0_width"]),
                "level0_height": int(attrs["level0_height"]),
                "wsi_path": str(attrs["wsi_path"]),
                "passport_format": "{stem}__x{X}_y{Y}_rw{RW}_rh{RH}_lv{LV}_mag{MAG}_tmag{TMAG}"
                "_total{TOTAL}",
                "passport_version": 2,
                "creation_date": "2026-11-01T00:00:00+00:00",
                "filename": "synthetic-40x.tiff",
                "mpp": 0.25,
                "magnification": 40,
                "num_patches": total,
            }
        )


def test_an_atlaspatch_file_is_skipped_when_it_matches_and_given_new_features(
    tmp_path: Path, synthetic_slide
) -> None:
    from tests.cli import coords_run

    assert coords_run(synthetic_slide.path, tmp_path / "ours").exit_code == 0
    h5_path = tmp_path / "out/patches/synthetic-40x.h5"
    h5_path.parent.mkdir(parents=True)
    _as_atlaspatch_wrote_it(tmp_path / "ours/patches/synthetic-40x.h5", h5_path)
    before = h5_path.read_bytes()

    skipped = coords_run(synthetic_slide.path, tmp_path / "out", "--skip-existing")
    assert skipped.exit_code == 0, skipped.output
    assert "skipped  synthetic-40x.tiff: output exists" in skipped.output
    assert h5_path.read_bytes() == before  # left byte-identical

    other = coords_run(synthetic_slide.path, tmp_path / "out", "--patch-size", "512")
    assert other.exit_code == 1
    assert "patch_size 256 there, 512 asked" in other.output

    added = process_run(
        synthetic_slide.path, tmp_path / "out", "--feature-extractors", "efficientnet_lite0"
    )
    assert added.exit_code == 0, added.output
    with h5py.File(h5_path) as h5, h5py.File(tmp_path / "ours/patches/synthetic-40x.h5") as ours:
        assert np.array_equal(h5["coords"][...], ours["coords"][...])
        assert len(h5["passports"]) == len(h5["coords"]) and h5.attrs["passport_version"] == 2
        features = h5["features/efficientnet_lite0"]
        assert features.shape == (len(h5["coords"]), 1280)
        assert np.abs(features[...]).sum(axis=1).min() > 0


def test_atlaspatch_1_1_names_for_virchow_are_the_same_models() -> None:
    import dataclasses

    from atlaspatch.encoder_service.catalog import builtin_specs
    from atlaspatch.encoder_service.registry import EncoderRegistry

    specs = {spec.name: spec for spec in builtin_specs()}
    for alias, name in (("virchow_v1", "virchow"), ("virchow_v2", "virchow2")):
        assert alias in EncoderRegistry().names()
        assert specs[alias].name == alias  # its features are stored under the name asked for
        assert dataclasses.replace(specs[alias], name=name) == specs[name]
