"""Per-slide lock files, so that many workers can share one output folder.

`<output>/locks/<stem>.lock` holds the owner's host, pid and start time; its modification time
is the owner's heartbeat, refreshed by a background thread while the slide is worked on. A lock
whose heartbeat is older than `stale_after`, or whose owner process on this host is gone, is
taken over (the reference's locks never expire, so a killed run blocked its slides forever).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HEARTBEAT_SECONDS = float(os.environ.get("ATLASPATCH_LOCK_HEARTBEAT", "30"))
STALE_AFTER_SECONDS = float(os.environ.get("ATLASPATCH_LOCK_STALE_AFTER", "300"))
TAKEOVER_EXPIRES_SECONDS = 60.0


@dataclass(frozen=True)
class Holder:
    host: str
    pid: int
    age_seconds: float

    def __str__(self) -> str:
        return f"held by {self.host} pid {self.pid} (heartbeat {self.age_seconds:.0f} s ago)"


class SlideLocks:
    """Takes and keeps the locks of one worker; `close` releases whatever it still holds."""

    def __init__(
        self,
        folder: Path,
        heartbeat: float = HEARTBEAT_SECONDS,
        stale_after: float = STALE_AFTER_SECONDS,
    ):
        self.folder = folder
        self._heartbeat = heartbeat
        self._stale_after = stale_after
        self._host = socket.gethostname()
        self._held: set[Path] = set()
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._keep_alive, daemon=True, name="lock-heartbeat")
        self._beat.start()

    def acquire(self, stem: str) -> Holder | None:
        """Take the slide's lock: None when taken, else who holds it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{stem}.lock"
        for _ in range(3):
            if self._create(path):
                with self._guard:
                    self._held.add(path)
                return None
            holder = self._read(path)
            if holder is None:
                continue  # released between our two looks: try again
            if not self._is_stale(holder):
                return holder
            self._take_over(path)
        holder = self._read(path)
        return holder or Holder("?", 0, 0.0)

    def release(self, stem: str) -> None:
        path = self.folder / f"{stem}.lock"
        with self._guard:
            if path not in self._held:
                return
            self._held.discard(path)
        path.unlink(missing_ok=True)

    def close(self) -> None:
        self._stop.set()
        with self._guard:
            held, self._held = list(self._held), set()
        for path in held:
            path.unlink(missing_ok=True)

    def __enter__(self) -> SlideLocks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _create(self, path: Path) -> bool:
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        owner = {"host": self._host, "pid": os.getpid(), "started": time.time()}
        try:
            with os.fdopen(descriptor, "w") as handle:
                json.dump(owner, handle)
        except OSError:  # a full disk: no lock half-made, the caller reports why
            path.unlink(missing_ok=True)
            raise
        return True

    def _take_over(self, path: Path) -> None:
        """Remove a stale lock. The second look and the removal happen while holding
        `<lock>.takeover`, so two workers taking over at once never remove a lock that one of
        them has just created."""
        mutex = path.with_name(f"{path.name}.takeover")
        try:
            os.close(os.open(mutex, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            # Another worker is at it; the mutex of one that died doing it expires.
            with contextlib.suppress(FileNotFoundError):
                if time.time() - mutex.stat().st_mtime > TAKEOVER_EXPIRES_SECONDS:
                    mutex.unlink()
            return
        try:
            holder = self._read(path)
            if holder is not None and self._is_stale(holder):
                path.unlink(missing_ok=True)
        finally:
            mutex.unlink(missing_ok=True)

    def _read(self, path: Path) -> Holder | None:
        try:
            age = time.time() - path.stat().st_mtime
            owner = json.loads(path.read_text() or "{}")
        except FileNotFoundError:
            return None
        except ValueError:  # being written this instant, or garbage: judge by its age alone
            owner = {}
        return Holder(str(owner.get("host", "?")), int(owner.get("pid", 0)), age)

    def _is_stale(self, holder: Holder) -> bool:
        if holder.age_seconds > self._stale_after:
            return True
        return holder.host == self._host and holder.pid > 0 and not _alive(holder.pid)

    def _keep_alive(self) -> None:
        while not self._stop.wait(self._heartbeat):
            with self._guard:
                held = list(self._held)
            for path in held:
                with contextlib.suppress(FileNotFoundError):
                    os.utime(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
