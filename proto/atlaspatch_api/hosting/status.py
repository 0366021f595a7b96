"""Every exception a servicer raises becomes a gRPC status here, and only here: a
`ServiceError` by the status it carries, anything else as INTERNAL."""

from __future__ import annotations

import logging

import grpc

from atlaspatch_api.errors import ServiceError

log = logging.getLogger(__name__)


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status and the message a client may see (internals are logged, never sent)."""
    if isinstance(exc, ServiceError) and exc.status != "INTERNAL":
        return grpc.StatusCode[exc.status], str(exc)
    log.error("internal error", exc_info=exc)
    return grpc.StatusCode.INTERNAL, "internal error (details are in the service's log)"
