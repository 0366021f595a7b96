"""The errors a service answers with, each carrying the gRPC status it travels as.

A service raises them (in process as well as behind gRPC); the server's interceptor turns
them into statuses by `status` alone, and a remote client turns a status back into the same
class, so a caller handles one hierarchy whatever the wire. The status is kept as its name,
so this module needs no gRPC (the Triton models import it too).
"""

from __future__ import annotations


class ServiceError(Exception):
    """A failure the caller can act on. Anything else a service raises is INTERNAL."""

    status = "INTERNAL"


class InvalidInput(ServiceError, ValueError):
    """A request whose sizes, shapes, names or values do not add up."""

    status = "INVALID_ARGUMENT"


class NotFound(ServiceError, LookupError):
    """An unknown model or encoder, or weights that are not here."""

    status = "NOT_FOUND"

    def __str__(self) -> str:  # LookupError would quote a KeyError-like message
        return str(self.args[0]) if self.args else ""


class Exhausted(ServiceError):
    """A full queue: try again later."""

    status = "RESOURCE_EXHAUSTED"


class Unavailable(ServiceError):
    """Not ready yet, or a backend behind the service is down: try again later."""

    status = "UNAVAILABLE"


class Refused(ServiceError):
    """A model that cannot be served as what it claims to be (a failed precondition)."""

    status = "FAILED_PRECONDITION"


class Unauthenticated(ServiceError):
    status = "UNAUTHENTICATED"


class DeadlineExceeded(ServiceError):
    status = "DEADLINE_EXCEEDED"


def shown(text: str, limit: int = 60) -> str:
    """`text` quoted for a message, cut short where a caller sent something huge."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text):,} characters)"


_BY_STATUS = {
    cls.status: cls
    for cls in (
        ServiceError,
        InvalidInput,
        NotFound,
        Exhausted,
        Unavailable,
        Refused,
        Unauthenticated,
        DeadlineExceeded,
    )
}


def error_for_status(status: str, message: str) -> ServiceError:
    """The error a status name stands for (ServiceError for any other status)."""
    error = _BY_STATUS.get(status, ServiceError)(message)
    error.status = status
    return error
