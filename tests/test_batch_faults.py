"""Batch runs that lose nothing under real faults: SIGKILL mid-slide then a rerun that
resumes, two workers on one folder, and a cap on the slides open at once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from atlaspatch.orchestrator.synthetic import write_synthetic_slide
from tests.cli import COMMON, coords_run, process_run
from tests.output_helpers import reports

ATLASPATCH = [sys.executable, "-m", "atlaspatch.orchestrator.cli"]


def small_slides(folder: Path, count: int, size: int = 3000) -> list[Path]:
    return [
        write_synthetic_slide(folder / f"s{i}.tiff", width=size, height=size * 4 // 5, seed=i).path
        for i in range(count)
    ]


def rows_done(partial: Path) -> int:
    """How far the worker writing `partial` has got (read without HDF5's file lock)."""
    try:
        with h5py.File(partial, "r", locking=False) as h5:
            return int(h5["features/efficientnet_lite0"].attrs["rows_done"])
    except (OSError, KeyError):
        return 0


def stopped_mid_slide(slide: Path, out: Path, stop: signal.Signals) -> int:
    """A `process` run of `slide` sent `stop` once two batches of features are on disk;
    its exit status."""
    args = [
        "process", str(slide), "-o", str(out), *COMMON,
        "--feature-extractors", "efficientnet_lite0", "--feature-batch-size", "8",
    ]  # fmt: skip
    worker = subprocess.Popen(
        [*ATLASPATCH, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    partial = out / "patches" / f".{slide.stem}.h5.partial"
    deadline = time.monotonic() + 300
    while rows_done(partial) < 16:
        assert worker.poll() is None, worker.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    worker.send_signal(stop)
    status = worker.wait(120)
    assert not (out / "patches" / f"{slide.stem}.h5").exists()
    assert partial.exists()
    return status


def test_sigterm_stops_at_a_batch_and_leaves_a_resumable_file_a_report_and_no_lock(
    tmp_path: Path, synthetic_slide
) -> None:
    # SIGTERM (what SLURM and Kubernetes send) used to kill the run at once: its lock stayed
    # and no report was written.
    out = tmp_path / "out"
    assert stopped_mid_slide(synthetic_slide.path, out, signal.SIGTERM) == 128 + signal.SIGTERM
    assert not list((out / "locks").iterdir())
    (report,) = reports(out)
    assert report["interrupted"] == "SIGTERM"
    assert report["counts"]["failed"] == 1
    assert report["slides"][0]["reason"].startswith("interrupted by SIGTERM")
    stopped_at = rows_done(out / "patches" / f".{synthetic_slide.path.stem}.h5.partial")
    assert stopped_at >= 16 and stopped_at % 8 == 0  # stopped between batches
    rerun = process_run(synthetic_slide.path, out, "--feature-extractors", "efficientnet_lite0")
    assert rerun.exit_code == 0, rerun.output
    assert f"resumed at patch {stopped_at} of" in rerun.output


@pytest.mark.slow
def test_sigkill_mid_slide_then_rerun_resumes_and_equals_a_clean_run(
    tmp_path: Path, synthetic_slide
) -> None:
    out = tmp_path / "out"
    stopped_mid_slide(synthetic_slide.path, out, signal.SIGKILL)

    rerun = process_run(synthetic_slide.path, out, "--feature-extractors", "efficientnet_lite0")
    assert rerun.exit_code == 0, rerun.output
    resumed_at = int(rerun.output.split("resumed at patch ")[1].split()[0])
    assert resumed_at > 0 and resumed_at % 8 == 0
    clean = process_run(
        synthetic_slide.path, tmp_path / "clean", "--feature-extractors", "efficientnet_lite0"
    )
    assert clean.exit_code == 0
    name = f"{synthetic_slide.path.stem}.h5"
    with h5py.File(out / "patches" / name) as a, h5py.File(tmp_path / "clean/patches" / name) as b:
        assert np.array_equal(a["coords"][...], b["coords"][...])
        features_a, features_b = a["features/efficientnet_lite0"], b["features/efficientnet_lite0"]
        np.testing.assert_allclose(features_a[...], features_b[...], rtol=0, atol=1e-5)
    assert [p.name for p in (out / "patches").iterdir()] == [name]
    assert not list((out / "locks").iterdir())


@pytest.mark.slow
def test_two_workers_on_one_folder_process_every_slide_once(tmp_path: Path) -> None:
    slides = small_slides(tmp_path / "slides", 8)
    out = tmp_path / "out"
    command = [*ATLASPATCH, "segment-and-get-coords", str(tmp_path / "slides"), "-o", str(out),
               *COMMON, "-v"]  # fmt: skip
    workers = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
               for _ in range(2)]  # fmt: skip
    for worker in workers:
        output = worker.communicate(timeout=600)[0].decode()
        assert worker.returncode == 0, output
    done: dict[str, int] = {}
    both = reports(out)
    assert len(both) == 2 and {r["pid"] for r in both} == {w.pid for w in workers}
    for report in both:
        for entry in report["slides"]:
            if entry["status"] == "done":
                done[entry["stem"]] = done.get(entry["stem"], 0) + 1
    assert done == {slide.stem: 1 for slide in slides}
    assert sorted(p.name for p in (out / "patches").iterdir()) == sorted(
        f"{slide.stem}.h5" for slide in slides
    )


@pytest.mark.parametrize(("max_open", "expected"), [(2, 2), (200, 4)])
def test_max_open_slides_caps_the_slides_open_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, max_open: int, expected: int
) -> None:
    import threading

    from atlaspatch.orchestrator.pipeline import flow

    small_slides(tmp_path / "slides", 6, size=2000)
    open_now, most = [0], [0]
    guard = threading.Lock()
    real_open = flow.open_with_thumbnail

    def counting_open(source, mpp_table):  # the real open, counted
        slide = real_open(source, mpp_table)
        real_close = slide.close

        def close() -> None:
            with guard:
                open_now[0] -= 1
            real_close()

        slide.close = close  # type: ignore[method-assign]
        with guard:
            open_now[0] += 1
            most[0] = max(most[0], open_now[0])
        return slide

    monkeypatch.setattr(flow, "open_with_thumbnail", counting_open)
    result = coords_run(
        tmp_path / "slides", tmp_path / "out", "--seg-batch-size", "4",
        "--max-open-slides", str(max_open), "--patch-workers", "4",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert most[0] == expected and open_now[0] == 0
