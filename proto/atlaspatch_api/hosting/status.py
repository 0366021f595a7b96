"""Every exception a servicer raises becomes a gRPC status here, and only here: a
`ServiceError` by the status it carries, anything else as INTERNAL."""

from __future__ import annotations

import logging

import grpc

from atlaspatch.api.errors import ServiceError

log = logging.getLogger(__name__)

# A status travels in the response's trailers, whose size the client limits (8 KB by default):
# a longer message would turn any status into RESOURCE_EXHAUSTED.
MAX_DETAILS = 2000


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status and the message a client may see (internals are logged, never sent)."""
    if isinstance(exc, ServiceError) and exc.status != "INTERNAL":
        message = str(exc)
        if len(message) > MAX_DETAILS:
            message = message[:MAX_DETAILS] + f"… ({len(message):,} characters)"
        return grpc.StatusCode[exc.status], message
    log.error("internal error", exc_info=exc)
    return grpc.StatusCode.INTERNAL, "internal error (details are in the service's log)"
