"""--output-layout per-config: each patch setting in a subfolder named as TRIDENT names its own,
so that several settings share one output root (in one folder the second is refused)."""

from __future__ import annotations

import h5py

from atlaspatch.orchestrator.settings import config_folder
from tests.cli import atlaspatch

BASE = ("--target-mag", "20", "--tissue-model", "otsu", "--device", "cpu")


def coords(slide, out, *extra):
    return atlaspatch("segment-and-get-coords", slide, "-o", out, *BASE, *extra)


def test_two_settings_share_one_root(tmp_path, synthetic_slide) -> None:
    slide = synthetic_slide.path
    first = ("--patch-size", "256")
    second = ("--patch-size", "512", "--step-size", "256")
    per_config = ("--output-layout", "per-config")
    assert coords(slide, tmp_path / "flat", *first).exit_code == 0
    refused = coords(slide, tmp_path / "flat", *second)
    assert refused.exit_code == 1 and "made with other parameters" in refused.output

    for setting in (first, second):
        result = coords(slide, tmp_path / "root", *setting, *per_config)
        assert result.exit_code == 0, result.output
    for folder, size in (("20x_256px_0px_overlap", 256), ("20x_512px_256px_overlap", 512)):
        with h5py.File(tmp_path / "root" / folder / "patches" / "synthetic-40x.h5") as h5:
            assert h5.attrs["patch_size"] == size


def test_the_folder_names_magnification_size_and_overlap() -> None:
    assert config_folder(256, 20.0, None) == "20x_256px_0px_overlap"
    assert config_folder(224, 1.25, 112) == "1.25x_224px_112px_overlap"
