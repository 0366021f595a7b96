"""Progress as the place it is read wants it: tqdm's bars on a terminal; in a log file (SLURM,
CI, Kubernetes), where bars become pages of escape codes, a plain line now and then: each
slide, and every quarter of a long slide's patches."""

from __future__ import annotations

import sys
import time
from typing import Any

from tqdm import tqdm

STEPS = 4  # lines for one slide's patches, in a log file


def progress(
    total: int, unit: str, desc: str = "", leave: bool = False, disable: bool = False
) -> Any:
    """A bar (or its log-file lines) over `total` `unit`s: `update(n)`, `close()`, and a
    context manager, as tqdm's."""
    if disable or sys.stderr.isatty():
        return tqdm(total=total, unit=unit, desc=desc or None, leave=leave, disable=disable)
    return LogLines(total, unit, desc, every_one=leave)


class LogLines:
    """tqdm's interface, writing a line to standard error per `unit` (`every_one`: slides)
    or per quarter of the total (a slide's patches)."""

    def __init__(self, total: int, unit: str, desc: str, every_one: bool):
        self._total, self._unit, self._desc = max(0, total), unit, desc
        self._step = 1 if every_one else max(1, -(-self._total // STEPS))
        self._done = self._shown = 0
        self._started = time.monotonic()

    def update(self, count: int = 1) -> None:
        self._done += count
        if self._done - self._shown >= self._step or self._done == self._total:
            self._shown = self._done
            self._write()

    def _write(self) -> None:
        seconds = time.monotonic() - self._started
        rate = self._done / seconds if seconds > 0 else 0.0
        share = f" ({100 * self._done / self._total:.0f}%)" if self._total else ""
        label = f"{self._desc}: " if self._desc else ""
        units = self._unit + ("es" if self._unit.endswith(("ch", "sh", "s")) else "s")
        print(
            f"{label}{self._done:,}/{self._total:,} {units}{share}, {rate:.1f} {units}/s",
            file=sys.stderr,
            flush=True,
        )

    def close(self) -> None:
        pass

    def __enter__(self) -> LogLines:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
