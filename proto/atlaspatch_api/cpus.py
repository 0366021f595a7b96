"""The processors this process may use: its CPU affinity (taskset, SLURM's binding) and, under
a CPU quota (a container's --cpus, a Kubernetes limit), no more than the quota: sizing thread
pools by the machine's count instead oversubscribes a container 4 times on a 64-core node."""

from __future__ import annotations

import math
import os
from pathlib import Path

# A container sees its own cgroup at the root (cgroup namespaces): v2, then v1.
CGROUP_V2 = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1 = (
    Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
    Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us"),
)


def usable_cpus(cgroup_v2: Path = CGROUP_V2, cgroup_v1: tuple[Path, Path] = CGROUP_V1) -> int:
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        count = os.cpu_count() or 1
    quota = _quota(cgroup_v2, cgroup_v1)
    if quota is not None:
        count = min(count, math.ceil(quota))
    return max(1, count)


def _quota(cgroup_v2: Path, cgroup_v1: tuple[Path, Path]) -> float | None:
    """CPUs' worth of time per period, or None without a limit."""
    try:
        limit, period = cgroup_v2.read_text().split()[:2]
    except (OSError, ValueError):
        try:
            limit, period = (path.read_text().strip() for path in cgroup_v1)
        except (OSError, ValueError):
            return None
    if not (limit.isdigit() and period.isdigit() and int(period) > 0):  # "max", -1: none
        return None
    return int(limit) / int(period)
