"""Every exception a servicer raises becomes a gRPC status here, and only here."""

from __future__ import annotations

import logging

import grpc
from tritonclient.utils import InferenceServerException

from client.wire import InvalidInput
from encoder_service.batcher import QueueFull
from encoder_service.handler import NotReady
from encoder_service.registry import UnknownEncoder
from encoder_service.weights import WeightsNotFound
from segmenter_service.servicer import UnknownModel

log = logging.getLogger(__name__)


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status and the message a client may see (internals are logged, never sent)."""
    if isinstance(exc, InvalidInput):
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc)
    if isinstance(exc, (UnknownEncoder, UnknownModel, WeightsNotFound)):
        return grpc.StatusCode.NOT_FOUND, str(exc)
    if isinstance(exc, QueueFull):
        return grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc)
    if isinstance(exc, NotReady):
        return grpc.StatusCode.UNAVAILABLE, str(exc)
    if isinstance(exc, InferenceServerException) and "UNAVAILABLE" in str(exc.status()):
        # Triton behind this service is down or restarting: the client may retry.
        return grpc.StatusCode.UNAVAILABLE, "the Triton server behind this service is unavailable"
    if isinstance(exc, ValueError) and "precision" in str(exc):
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc)
    log.error("internal error", exc_info=exc)
    return grpc.StatusCode.INTERNAL, "internal error (details are in the service's log)"
