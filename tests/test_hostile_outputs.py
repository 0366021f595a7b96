"""What an unlucky run does to its outputs: a disk that fills up, slides that share a name,
a leftover whose rows were changed before the resume, options and mpp tables that are not
quite numbers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.cli import COMMON, coords_run, process_run
from tests.conftest import REPO
from tests.output_helpers import reports
from tests.process_helpers import PLUGIN

FULL_DISK_RUN = """
set -e
mount -t tmpfs -o size=1m tmpfs "$OUT"
head -c 400000 /dev/zero > "$OUT/filler"
set +e
"$@"
echo "exit status $?"
find "$OUT" -type f | sort
"""


def _can_mount_a_private_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs tmpfs /mnt"], capture_output=True
    )
    return probe.returncode == 0


@pytest.mark.skipif(
    not _can_mount_a_private_tmpfs(), reason="needs `unshare -rm` to mount a small tmpfs"
)
def test_a_full_disk_fails_the_slides_that_do_not_fit_and_the_run_ends_in_order(
    tmp_path: Path, synthetic_slide
) -> None:
    slides, out = tmp_path / "slides", tmp_path / "full"
    slides.mkdir()
    out.mkdir()
    for name in ("a", "b", "c"):
        os.link(synthetic_slide.path, slides / f"{name}.tiff")
    command = [
        sys.executable, "-m", "atlaspatch.orchestrator.cli", "process", str(slides), "-o", str(out),
        *COMMON, "--feature-extractors", "efficientnet_lite0",
    ]  # fmt: skip
    # A 1 MB disk with 650 KB free: one slide's file fits (270 KB), not three. HDF5 used to
    # hit the full disk mid-file and crash the run (exit 139) with its lock left behind.
    run = subprocess.run(
        ["unshare", "-rm", "bash", "-c", FULL_DISK_RUN, "full-disk", *command],
        env={**os.environ, "OUT": str(out)},
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    output = run.stdout + run.stderr
    assert "exit status 1" in output, output
    assert "done     a.tiff" in output
    for name in ("b", "c"):
        assert f"FAILED   {name}.tiff: no room for {name}.h5 in {out}/patches" in output
    assert "1 done, 0 skipped, 2 failed of 3 slides" in output
    files = [line for line in output.splitlines() if line.startswith(str(out))]
    assert f"{out}/patches/a.h5" in files
    assert any("/reports/" in line for line in files)
    assert not [f for f in files if "/locks/" in f or ".partial" in f], files


def test_slides_that_would_share_an_output_all_fail_naming_each_other(
    tmp_path: Path, synthetic_slide
) -> None:
    slides = tmp_path / "slides"
    (slides / "sub").mkdir(parents=True)
    for path in ("x.tiff", "x.svs", "sub/x.tiff", "y.tiff"):
        os.link(synthetic_slide.path, slides / path)
    result = coords_run(slides, tmp_path / "out", "--recursive")
    assert result.exit_code == 1
    assert "1 done, 0 skipped, 3 failed of 4 slides" in result.output
    for failed in ("x.svs", "x.tiff"):
        assert f"FAILED   {failed}: its outputs are named x.*, as are those of" in result.output
    assert f"as are those of {slides}/sub/x.tiff, {slides}/x.tiff:" in result.output
    assert sorted(p.name for p in (tmp_path / "out/patches").iterdir()) == ["y.h5"]


FAILS_AT_THE_FOURTH_BATCH = PLUGIN.replace(
    "        return model(batch)  # must return [batch, embedding_dim]",
    "        calls.append(1)\n"
    "        if len(calls) == 4:\n"
    "            raise RuntimeError('GPU fell off')\n"
    "        return model(batch)",
).replace("import torch\n", "import torch\ncalls = []\n", 1)


@pytest.mark.parametrize("damage", ["feature rows", "coords"])
def test_a_resumed_leftover_keeps_only_what_is_as_it_was_written(
    tmp_path: Path, synthetic_slide, damage: str
) -> None:
    failing, working = tmp_path / "failing.py", tmp_path / "working.py"
    failing.write_text(FAILS_AT_THE_FOURTH_BATCH)
    working.write_text(PLUGIN)
    out, args = tmp_path / "out", ("--feature-extractors", "my_encoder", "--feature-plugin")
    assert process_run(synthetic_slide.path, out, *args, failing).exit_code == 1
    leftover = out / "patches/.synthetic-40x.h5.partial"
    with h5py.File(leftover, "r+") as h5:  # three batches of 8 rows were written
        assert h5["features/my_encoder"].attrs["rows_done"] == 24
        if damage == "feature rows":
            h5["features/my_encoder"][8:12] = 0.0
            h5["features/my_encoder"][13] = np.nan
        else:
            h5["coords"][5, 0] += 256

    resumed = process_run(synthetic_slide.path, out, *args, working)
    assert resumed.exit_code == 0, resumed.output
    assert ("resumed at patch 8 of" in resumed.output) == (damage == "feature rows")
    assert process_run(synthetic_slide.path, tmp_path / "clean", *args, working).exit_code == 0
    with (
        h5py.File(out / "patches/synthetic-40x.h5") as a,
        h5py.File(tmp_path / "clean/patches/synthetic-40x.h5") as b,
    ):
        assert np.array_equal(a["coords"][...], b["coords"][...])
        assert np.array_equal(a["features/my_encoder"][...], b["features/my_encoder"][...])


@pytest.mark.parametrize("option", ["--target-mag", "--min-tissue-fraction", "--tissue-thresh"])
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_options_that_are_not_finite_numbers_are_refused(
    tmp_path: Path, synthetic_slide, option: str, value: str
) -> None:
    result = coords_run(synthetic_slide.path, tmp_path, option, value)
    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.output
    # inf is refused by the range where it has an upper bound, by the finiteness check else.
    assert any(
        why in result.output for why in (f"{value!r} is not a finite number", "not in the range")
    )
    assert value != "nan" or "'nan' is not a finite number" in result.output
    assert not reports(tmp_path)


def test_an_mpp_table_saved_by_excel_is_read(tmp_path: Path, synthetic_slide) -> None:
    table = tmp_path / "mpp.csv"
    table.write_bytes("wsi,mpp\r\nsynthetic-40x.tiff,0.5\r\n".encode("utf-8-sig"))
    result = coords_run(synthetic_slide.path, tmp_path / "out", "--mpp-csv", table)
    assert result.exit_code == 0, result.output
    with h5py.File(tmp_path / "out/patches/synthetic-40x.h5") as h5:
        assert h5.attrs["mpp"] == pytest.approx(0.5)


def test_an_mpp_table_that_contradicts_itself_is_refused(tmp_path: Path, synthetic_slide) -> None:
    table = tmp_path / "mpp.csv"
    table.write_text("wsi,mpp\nsynthetic-40x.tiff,0.25\nother.svs,0.5\nsynthetic-40x.tiff,0.5\n")
    result = coords_run(synthetic_slide.path, tmp_path / "out", "--mpp-csv", table)
    assert result.exit_code != 0
    assert "synthetic-40x.tiff has mpp 0.25 on line 2 and 0.5 on line 4" in result.output
    repeated = tmp_path / "repeated.csv"  # the same row twice is no contradiction
    repeated.write_text("wsi,mpp\nsynthetic-40x.tiff,0.25\nsynthetic-40x.tiff,0.25\n")
    assert coords_run(synthetic_slide.path, tmp_path / "out2", "--mpp-csv", repeated).exit_code == 0
