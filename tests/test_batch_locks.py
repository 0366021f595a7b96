"""Per-slide locks for batch runs: respected and released, kept fresh by a heartbeat, taken
over when stale or orphaned (by exactly one of many racing workers), never taken by --force."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from atlaspatch.orchestrator.batch.locks import SlideLocks
from tests.cli import coords_run


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
