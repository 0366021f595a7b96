"""What a run's encoders were when it began: the precision and weights each computed with.

Every later answer of the service is checked against them, so that a service restarted with
other settings fails the slides it would have touched instead of mixing two models' numbers
in one file. Requests name the pinned precision, so a restarted service whose default
changed still computes what the run began with.
"""

from __future__ import annotations

import threading

from atlaspatch.api.errors import Refused


class EncoderChanged(Refused):
    """The service now computes an encoder otherwise than when the run began."""


class PinnedEncoders:
    def __init__(self, what: str):
        self._what = what
        self._pinned: dict[str, tuple[str, str]] = {}  # name -> (precision, weights_sha256)
        self._lock = threading.Lock()

    def check(self, name: str, precision: str, weights_sha256: str) -> None:
        """Pin `name` on first sight; afterwards, refuse anything else."""
        with self._lock:
            pinned = self._pinned.setdefault(name, (precision, weights_sha256))
        if pinned == (precision, weights_sha256):
            return
        then, now = _identity(*pinned), _identity(precision, weights_sha256)
        raise EncoderChanged(
            f"the {self._what} now computes {name} {now}; this run began with it {then}: "
            "was it restarted with other settings? Rerun the slide once the service is as "
            "it was, or start the run again"
        )

    def precision(self) -> str:
        """The one precision every pinned encoder runs ("" before any, or where they differ)."""
        with self._lock:
            precisions = {precision for precision, _ in self._pinned.values()}
        return precisions.pop() if len(precisions) == 1 else ""


def _identity(precision: str, weights_sha256: str) -> str:
    weights = f"weights {weights_sha256[:12]}" if weights_sha256 else "unnamed weights"
    return f"in {precision or 'its own precision'} with {weights}"
