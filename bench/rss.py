"""Sampling a process's resident memory from /proc, for the soak and load benchmarks."""

from __future__ import annotations

import threading
import time


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mib(pid: int) -> float:
    """The most a process has held so far (VmHWM)."""
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


class RssSampler:
    """Samples a process's RSS every `interval` seconds in a thread until stopped."""

    def __init__(self, pid: int, interval: float = 0.5):
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MiB)
        self._pid, self._interval = pid, interval
        self._stop = threading.Event()
        self._start = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> list[tuple[float, float]]:
        self._stop.set()
        self._thread.join()
        return self.samples

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic() - self._start, rss_mib(self._pid)))
            except OSError:
                return  # the process is gone
            self._stop.wait(self._interval)
