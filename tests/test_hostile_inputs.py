"""Inputs that used to hang a run, eat its memory or be misreported: a FIFO named like a slide,
a device given as the slide, a small PNG that decodes to gigabytes, a damaged HDF5 output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.cli import COMMON, coords_run
from tests.conftest import REPO


def test_a_fifo_among_the_slides_fails_alone_and_never_hangs(tmp_path: Path, synthetic_slide):
    slides = tmp_path / "slides"
    slides.mkdir()
    os.link(synthetic_slide.path, slides / "real.tiff")
    os.mkfifo(slides / "pipe.svs")
    command = [
        sys.executable, "-m", "atlaspatch.orchestrator.cli", "segment-and-get-coords", str(slides),
        "-o", str(tmp_path / "out"), *COMMON,
    ]  # fmt: skip
    # A reader that opened the FIFO would wait forever for a writer: the timeout says so.
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "FAILED   pipe.svs: not a regular file" in run.stderr
    assert "1 done, 0 skipped, 1 failed of 2 slides" in run.stdout


def test_a_fifo_or_a_device_given_as_the_slide_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.svs"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        result = coords_run(path, tmp_path / "out")
        assert result.exit_code == 1
        assert f"{path} is neither a regular file nor a folder" in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_plain_image_over_the_pixel_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    from PIL import Image

    png = tmp_path / "huge.png"
    Image.new("1", (20_000, 20_000)).save(png)  # 400 MP, a few kilobytes on disk
    assert png.stat().st_size < 5_000_000
    mpp = tmp_path / "mpp.csv"
    mpp.write_text("wsi,mpp\nhuge.png,0.5\n")
    result = coords_run(png, tmp_path / "out", "--mpp-csv", mpp)
    assert result.exit_code == 1
    assert "huge.png: a plain image of 20000x20000 px" in result.output
    assert "over the limit of 100,000,000 px" in result.output


def test_a_damaged_output_is_reported_as_damaged(tmp_path: Path, synthetic_slide) -> None:
    out = tmp_path / "out"
    assert coords_run(synthetic_slide.path, out).exit_code == 0
    h5 = out / "patches" / "synthetic-40x.h5"
    h5.write_bytes(b"not an HDF5 file" * 100)
    again = coords_run(synthetic_slide.path, out)
    assert again.exit_code == 1
    assert f"{h5} is damaged: it cannot be read" in again.output
    assert "other parameters" not in again.output
    assert coords_run(synthetic_slide.path, out, "--force").exit_code == 0


def _replace_features(h5_path: Path, rows: int | None, dim: int | None) -> None:
    import h5py
    import numpy as np

    with h5py.File(h5_path, "r+") as h5:
        old = h5["features/efficientnet_lite0"]
        attrs, shape = dict(old.attrs), old.shape
        del h5["features/efficientnet_lite0"]
        new = h5.create_dataset(
            "features/efficientnet_lite0",
            data=np.zeros((rows or shape[0], dim or shape[1]), np.float32),
        )
        new.attrs.update(attrs)


def test_existing_feature_sets_are_checked_against_coords_and_the_encoder(
    tmp_path: Path, synthetic_slide
) -> None:
    import h5py

    from tests.cli import process_run

    lite = ("--feature-extractors", "efficientnet_lite0")
    assert process_run(synthetic_slide.path, tmp_path, *lite).exit_code == 0
    h5_path = tmp_path / "patches" / "synthetic-40x.h5"
    with h5py.File(h5_path) as h5:
        rows = len(h5["coords"])

    _replace_features(h5_path, rows=rows // 2, dim=None)  # a short set: computed anew
    again = process_run(synthetic_slide.path, tmp_path, *lite)
    assert again.exit_code == 0 and "coordinates and features exist" not in again.output
    with h5py.File(h5_path) as h5:
        assert h5["features/efficientnet_lite0"].shape == (rows, 1280)
        assert abs(h5["features/efficientnet_lite0"][...]).sum(axis=1).min() > 0

    _replace_features(h5_path, rows=None, dim=7)  # another encoder's width: refused
    other = process_run(synthetic_slide.path, tmp_path, *lite)
    assert other.exit_code == 1
    assert "features/efficientnet_lite0 dimension 7 there, 1280 asked" in other.output
