"""Triton's errors as ours, where a service forwards to Triton."""

from __future__ import annotations

from tritonclient.utils import InferenceServerException

from atlaspatch.api.errors import ServiceError, Unavailable


def triton_error(exc: InferenceServerException) -> ServiceError:
    """Triton down or restarting is UNAVAILABLE (callers retry); anything else is internal,
    and its details stay in the service's log."""
    if exc.status() == "StatusCode.UNAVAILABLE":
        return Unavailable("the Triton server behind this service is unavailable")
    return ServiceError(f"Triton: {exc}")
