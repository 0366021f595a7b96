"""SIGTERM (a scheduler's stop: SLURM's, Kubernetes') and Ctrl-C stop a run the same way: the
slide in progress stops at its next batch boundary, its `.partial` file stays for the next
run to resume, locks are released, and the report is written with the run marked
interrupted. A second Ctrl-C stops at once."""

from __future__ import annotations

import signal
import threading
from types import FrameType

_asked = threading.Event()
_by: list[str] = []


class StopRequested(KeyboardInterrupt):
    """Raised at a batch boundary after a stop was asked for."""


def install() -> None:
    """Handle SIGTERM and SIGINT from now on (a run started off the main thread, as a
    library call, leaves signals to its caller)."""
    _asked.clear()
    _by.clear()
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _on_signal)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    if _asked.is_set() and signum == signal.SIGINT:
        raise KeyboardInterrupt  # asked twice: now
    _by.append(name)
    _asked.set()


def stop_point() -> None:
    """Where a run may stop: raises StopRequested once a stop was asked for."""
    if _asked.is_set():
        raise StopRequested(stopped_by())


def stopped_by() -> str | None:
    """The signal that asked the run to stop ("SIGTERM", "SIGINT"), or None."""
    return _by[0] if _by else None


def exit_status() -> int | None:
    """What a stopped run exits with (128 + the signal, as a shell reports it), or None."""
    name = stopped_by()
    return None if name is None else 128 + signal.Signals[name].value
