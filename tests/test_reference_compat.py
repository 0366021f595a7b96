"""What AtlasPatch's users bring along works unchanged: their plugin files."""

from __future__ import annotations

import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from encoder_service.plugins import load_plugin
from encoder_service.registry import EncoderRegistry
from tests.cli import process_run
from tests.process_helpers import PLUGIN

# The reference README's plugin, as its users write it: AtlasPatch's import, and (optional
# there) no forward_fn.
REFERENCE_PLUGIN = PLUGIN.replace(
    "from encoder_service.custom import",
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
