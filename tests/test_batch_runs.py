"""Batch runs that lose nothing: per-slide locks that expire, reports, resume after SIGKILL,
two workers on one folder, and bad input that costs only itself."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from orchestrator.locks import SlideLocks
from orchestrator.synthetic import write_synthetic_slide
from tests.cli import COMMON, coords_run, process_run
from tests.conftest import BAD

ATLASPATCH = [sys.executable, "-m", "orchestrator.cli"]


def reports(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / "reports").glob("*.json"))]


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


# --- locks -----------------------------------------------------------------------------------


def test_a_held_lock_is_respected_and_released(tmp_path: Path) -> None:
    with SlideLocks(tmp_path) as mine, SlideLocks(tmp_path) as theirs:
        assert mine.acquire("a") is None
        holder = theirs.acquire("a")
        assert holder is not None and holder.pid == os.getpid()
        assert holder.host == socket.gethostname()
        mine.release("a")
        assert theirs.acquire("a") is None
    assert list(tmp_path.iterdir()) == []  # closing releases what is held


def test_heartbeat_keeps_a_lock_fresh(tmp_path: Path) -> None:
    with SlideLocks(tmp_path, heartbeat=0.1) as locks:
        locks.acquire("a")
        lock = tmp_path / "a.lock"
        os.utime(lock, (time.time() - 1000, time.time() - 1000))
        time.sleep(0.5)
        assert time.time() - lock.stat().st_mtime < 5


def test_stale_and_orphaned_locks_are_taken_over(tmp_path: Path) -> None:
    # Another host whose heartbeat stopped ten minutes ago.
    stale = tmp_path / "a.lock"
    stale.write_text(json.dumps({"host": "node-7", "pid": 1234}))
    os.utime(stale, (time.time() - 600, time.time() - 600))
    # A process on this host that is gone.
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
    dead = tmp_path / "b.lock"
    dead.write_text(json.dumps({"host": socket.gethostname(), "pid": int(finished.stdout)}))
    # A live owner elsewhere, heartbeat fresh: kept.
    (tmp_path / "c.lock").write_text(json.dumps({"host": "node-8", "pid": 99}))
    with SlideLocks(tmp_path, stale_after=300) as locks:
        assert locks.acquire("a") is None
        assert locks.acquire("b") is None
        assert locks.acquire("c").host == "node-8"
        assert json.loads(stale.read_text())["pid"] == os.getpid()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.lock"]  # no takeover leftovers


def race_for_a_stale_lock(folder: Path, racers: int = 8) -> int:
    """How many of `racers` workers, started together, get a stale lock."""
    import threading

    stale = folder / "a.lock"
    stale.write_text(json.dumps({"host": "node-7", "pid": 1234}))
    os.utime(stale, (time.time() - 600, time.time() - 600))
    workers = [SlideLocks(folder) for _ in range(racers)]
    start = threading.Barrier(racers)
    outcomes: list[object] = [None] * racers

    def take(index: int) -> None:
        start.wait()
        outcomes[index] = workers[index].acquire("a")

    threads = [threading.Thread(target=take, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for locks in workers:
        locks.close()
    return sum(outcome is None for outcome in outcomes)


def test_of_many_workers_taking_over_a_stale_lock_one_wins(tmp_path: Path) -> None:
    for _ in range(5):
        assert race_for_a_stale_lock(tmp_path) == 1
        assert list(tmp_path.iterdir()) == []


def test_force_never_takes_a_slide_a_live_worker_holds(tmp_path: Path, synthetic_slide) -> None:
    with SlideLocks(tmp_path / "out" / "locks") as other_worker:
        other_worker.acquire(synthetic_slide.path.stem)
        result = coords_run(synthetic_slide.path, tmp_path / "out", "--force")
    assert result.exit_code == 0, result.output
    assert "another worker has it: held by" in result.output
    assert not (tmp_path / "out" / "patches" / f"{synthetic_slide.path.stem}.h5").exists()


# --- reports and skip-existing -----------------------------------------------------------------


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


def test_existing_features_made_otherwise_are_not_reused(tmp_path: Path, synthetic_slide) -> None:
    encoder = ("--feature-extractors", "efficientnet_lite0")
    assert process_run(synthetic_slide.path, tmp_path, *encoder).exit_code == 0
    again = process_run(synthetic_slide.path, tmp_path, *encoder, "--feature-precision", "bfloat16")
    assert again.exit_code == 1
    assert "features/efficientnet_lite0 precision float32 there, bfloat16 asked" in again.output
    same = process_run(synthetic_slide.path, tmp_path, *encoder, "--skip-existing")
    assert same.exit_code == 0 and "coordinates and features exist" in same.output


# --- faults, for real --------------------------------------------------------------------------


@pytest.mark.slow
def test_sigkill_mid_slide_then_rerun_resumes_and_equals_a_clean_run(
    tmp_path: Path, synthetic_slide
) -> None:
    out = tmp_path / "out"
    args = [
        "process", str(synthetic_slide.path), "-o", str(out), *COMMON,
        "--feature-extractors", "efficientnet_lite0", "--feature-batch-size", "8",
    ]  # fmt: skip
    worker = subprocess.Popen(
        [*ATLASPATCH, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    partial = out / "patches" / f".{synthetic_slide.path.stem}.h5.partial"
    deadline = time.monotonic() + 300
    while rows_done(partial) < 16:  # two batches of features are on disk
        assert worker.poll() is None, worker.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    assert not (out / "patches" / f"{synthetic_slide.path.stem}.h5").exists()

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

    from orchestrator import runner

    small_slides(tmp_path / "slides", 6, size=2000)
    open_now, most = [0], [0]
    guard = threading.Lock()
    real_open = runner.open_with_thumbnail

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

    monkeypatch.setattr(runner, "open_with_thumbnail", counting_open)
    result = coords_run(
        tmp_path / "slides", tmp_path / "out", "--seg-batch-size", "4",
        "--max-open-slides", str(max_open), "--patch-workers", "4",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert most[0] == expected and open_now[0] == 0


# --- bad input -----------------------------------------------------------------------------------


def test_bad_inputs_fail_alone_with_their_reasons(tmp_path: Path) -> None:
    folder = tmp_path / "slides"
    good = write_synthetic_slide(folder / "good.tiff", width=3000, height=2400, seed=1).path
    (folder / "truncated.tiff").write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    (folder / "notes.svs").write_text("not a slide")
    blank = np.zeros((240, 300), dtype=np.uint8)
    write_synthetic_slide(folder / "blank.tiff", width=3000, height=2400, labels=blank)
    write_synthetic_slide(folder / "tiny.tiff", width=16, height=16, downsamples=(1,), tile=16)
    write_synthetic_slide(
        folder / "lowmag.tiff", width=3000, height=2400, magnification=10, mpp=1.0
    )
    write_synthetic_slide(
        folder / "noscale.tiff", width=3000, height=2400, magnification=None, mpp=None
    )
    result = coords_run(folder, tmp_path / "out")
    assert result.exit_code == 1
    expected = {
        "truncated.tiff": "OpenSlide cannot open it",
        "notes.svs": "OpenSlide cannot open it",
        "blank.tiff": "no tissue found",
        "tiny.tiff": "smaller than one patch",
        "lowmag.tiff": "above the slide's own 10x",
        "noscale.tiff": "--mpp-csv",
    }
    for name, reason in expected.items():
        line = next(line for line in result.output.splitlines() if f"FAILED   {name}:" in line)
        assert reason in line, line
    assert "done     good.tiff" in result.output
    assert sorted(p.name for p in (tmp_path / "out" / "patches").iterdir()) == ["good.h5"]
    unsupported = tmp_path / "slide.xyz"
    unsupported.write_text("?")
    alone = coords_run(unsupported, tmp_path / "out2")
    assert alone.exit_code == 1 and "unsupported file type '.xyz'" in alone.output


def test_unwritable_output_is_refused_before_any_slide(tmp_path: Path, synthetic_slide) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    # Immutable even for root (these machines run as root, where permission bits do nothing).
    if subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not permitted here")
    try:
        result = coords_run(synthetic_slide.path, locked / "out")
        assert result.exit_code == 1
        assert f"cannot write to the output folder {locked / 'out'}" in result.output
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=True)
    (tmp_path / "file").write_text("")
    blocked = coords_run(synthetic_slide.path, tmp_path / "file" / "out")
    assert blocked.exit_code == 1 and "cannot write to the output folder" in blocked.output
