"""Thread pools are sized by the CPUs this process may use: its affinity, within a CPU quota."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from atlaspatch.api.cpus import usable_cpus

NOWHERE = Path("/nonexistent")


def quota(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cpu.max"
    path.write_text(text)
    return path


def test_no_quota_leaves_the_affinity(tmp_path: Path) -> None:
    affinity = len(os.sched_getaffinity(0))
    assert usable_cpus(NOWHERE, (NOWHERE, NOWHERE)) == affinity
    assert usable_cpus(quota(tmp_path, "max 100000\n"), (NOWHERE, NOWHERE)) == affinity


@pytest.mark.parametrize(("text", "expected"), [("50000 100000", 1), ("100000 100000", 1)])
def test_a_quota_of_at_most_one_cpu_gives_one(tmp_path: Path, text: str, expected: int) -> None:
    assert usable_cpus(quota(tmp_path, text), (NOWHERE, NOWHERE)) == expected


def test_a_fractional_quota_rounds_up_within_the_affinity(tmp_path: Path) -> None:
    affinity = len(os.sched_getaffinity(0))
    assert usable_cpus(quota(tmp_path, "150000 100000"), (NOWHERE, NOWHERE)) == min(2, affinity)


def test_cgroup_v1_files(tmp_path: Path) -> None:
    (tmp_path / "quota").write_text("50000\n")
    (tmp_path / "period").write_text("100000\n")
    assert usable_cpus(NOWHERE, (tmp_path / "quota", tmp_path / "period")) == 1
    (tmp_path / "quota").write_text("-1\n")
    assert usable_cpus(NOWHERE, (tmp_path / "quota", tmp_path / "period")) == len(
        os.sched_getaffinity(0)
    )


def test_a_process_bound_to_one_cpu_sees_one() -> None:
    probe = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
        "from atlaspatch.api.cpus import usable_cpus; print(usable_cpus())"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"
