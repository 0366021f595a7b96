"""Calling a service again when it is away for a while (restarting, rolling out), and its
final answer as one of the API's errors."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import grpc

from atlaspatch.api.errors import error_for_status

log = logging.getLogger(__name__)
T = TypeVar("T")

# Our clients never cancel their own calls, so CANCELLED means a server that stopped in the
# middle of one (shutdown with no grace left); Embed and Segment are safe to send again.
RETRYABLE = (
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.CANCELLED,
)
# A load refused for memory will be refused again: only a queue that is full drains.
LOAD_RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)


def with_retries(
    call: Callable[[], T],
    what: str,
    give_up_after: float = 120.0,
    first_wait: float = 0.2,
    retryable: tuple[grpc.StatusCode, ...] = RETRYABLE,
) -> T:
    """Retry on UNAVAILABLE (down, restarting), CANCELLED (stopped mid-call) and
    RESOURCE_EXHAUSTED (queue full) with exponential backoff, for up to `give_up_after`
    seconds; anything else is final."""
    started, wait = time.monotonic(), first_wait
    while True:
        try:
            return call()
        except grpc.RpcError as error:
            code = error.code()  # type: ignore[attr-defined]
            if code not in retryable or time.monotonic() - started + wait > give_up_after:
                raise
            log.warning("%s: %s, retrying in %.1fs", what, code.name, wait)
            time.sleep(wait)
            wait = min(wait * 2, 5.0)


def call_service(
    call: Callable[[], T], what: str, retryable: tuple[grpc.StatusCode, ...] = RETRYABLE
) -> T:
    """`call` with retries; a final failure as the API error of its status, naming `what`."""
    try:
        return with_retries(call, what, retryable=retryable)
    except grpc.RpcError as error:
        code = error.code().name  # type: ignore[attr-defined]
        details = error.details()  # type: ignore[attr-defined]
        raise error_for_status(code, f"{what}: {code}: {details}") from error
