"""Calling a service again when it is away for a while (restarting, rolling out), and its
final answer as one of the API's errors.

Only a service that has answered this process before is waited for: on first contact, a
refused connection, an unknown host, a TLS mismatch or another service at the address is a
mistake to report within seconds, with what it most likely is."""

from __future__ import annotations

import logging
import threading
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
WAIT_FOR_KNOWN_SERVICE = 120.0  # seconds a service that has answered before may be away
WAIT_ON_FIRST_CONTACT = 3.0  # a service starting at this moment still gets that long

_answered: set[str] = set()
_answered_lock = threading.Lock()

# What the transport's words most likely mean, in the order they are looked for.
HINTS = (
    (("ssl", "handshake", "wrong_version_number", "wrong version number", "certificate"),
     "TLS does not match: a grpcs:// address for a service without TLS, or a certificate it "
     "does not accept (--tls-ca, --tls-client-cert)"),
    (("dns", "name or service not known", "resolve", "not known"),
     "the host name is not known here"),
    (("connection refused", "connect failed"),
     "nothing listens at that address: is the port right, and the service started? "
     "(`atlaspatch serve health URL` checks one)"),
    (("socket closed", "connection reset", "end of tcp stream", "eof"),
     "the service closed the connection: does it want TLS (grpcs://, --tls-ca) or a client "
     "certificate?"),
)  # fmt: skip


def with_retries(
    call: Callable[[], T],
    what: str,
    give_up_after: float = WAIT_FOR_KNOWN_SERVICE,
    first_wait: float = 0.2,
    retryable: tuple[grpc.StatusCode, ...] = RETRYABLE,
    level: int = logging.WARNING,
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
            log.log(level, "%s: %s, retrying in %.1fs", what, code.name, wait)
            time.sleep(wait)
            wait = min(wait * 2, 5.0)


def call_service(
    call: Callable[[], T],
    what: str,
    retryable: tuple[grpc.StatusCode, ...] = RETRYABLE,
    target: str = "",
) -> T:
    """`call` with retries; a final failure as the API error of its status, naming `what`
    and, where it is a mistake rather than an outage, what it most likely is. `target`: the
    service's address, waited for only once it has answered."""
    with _answered_lock:
        known = not target or target in _answered
    try:
        result = with_retries(
            call,
            what,
            WAIT_FOR_KNOWN_SERVICE if known else WAIT_ON_FIRST_CONTACT,
            retryable=retryable,
            # A few quick tries on first contact are not news; an outage is.
            level=logging.WARNING if known else logging.INFO,
        )
    except grpc.RpcError as error:
        code = error.code().name  # type: ignore[attr-defined]
        details = error.details() or ""  # type: ignore[attr-defined]
        message = f"{what}: {code}: {details}"
        hint = _hint(code, details, known)
        raise error_for_status(code, f"{message} ({hint})" if hint else message) from error
    if target:
        with _answered_lock:
            _answered.add(target)
    return result


def _hint(code: str, details: str, known: bool) -> str:
    if code == "UNIMPLEMENTED":
        return "the service at that address does not serve this call: another service's address?"
    if code != "UNAVAILABLE" or known:
        return ""
    words = details.lower()
    for markers, hint in HINTS:
        if any(marker in words for marker in markers):
            return hint
    return ""
