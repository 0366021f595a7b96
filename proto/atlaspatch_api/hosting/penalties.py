"""Callers whose calls keep being refused wait before their next call is read.

A refusal that is the caller's fault (a malformed request, no token, a name not served) costs
the service a parse and a reply, and costs the caller nothing: in a loop, a handful of such
callers take the processor from everyone else. So each connection's recent refusals are
counted (halving every `half_life` seconds), and past the first one in a while its next call
waits `first_delay`, doubling with each further refusal up to `max_delay`, before its message
is read (an unread message is held by the caller's flow control, not by the service). One
honest mistake is answered at once; a loop of refusals is slowed to about one a second.

Callers are told apart by their connection (gRPC's peer): behind a proxy that pools many
callers' calls into one connection they share a penalty, so such deployments turn it off
(`max_delay` 0).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

import grpc

CALLER_FAULTS = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
    }
)


class RefusalPenalties:
    def __init__(
        self,
        max_delay: float = 2.0,
        first_delay: float = 0.05,
        half_life: float = 5.0,
        max_callers: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.max_delay = max_delay
        self._first = first_delay
        self._half_life = half_life
        self._max_callers = max_callers
        self._clock = clock
        # caller -> (recent refusals, when last counted); oldest first, bounded.
        self._recent: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def delay(self, caller: str) -> float:
        """Seconds the caller's next call waits before it is read."""
        refusals = self._refusals(caller)
        if refusals < 2 or self.max_delay <= 0:
            return 0.0
        return min(self.max_delay, self._first * 2 ** (refusals - 2))

    def refused(self, caller: str, code: grpc.StatusCode) -> None:
        if code not in CALLER_FAULTS or self.max_delay <= 0:
            return
        self._recent[caller] = (self._refusals(caller) + 1, self._clock())
        self._recent.move_to_end(caller)
        while len(self._recent) > self._max_callers:
            self._recent.popitem(last=False)

    def _refusals(self, caller: str) -> float:
        count, when = self._recent.get(caller, (0.0, 0.0))
        return count * 0.5 ** ((self._clock() - when) / self._half_life) if count else 0.0
