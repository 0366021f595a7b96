"""The segmenter service assembled: backend, handler, servicer, server."""

from __future__ import annotations

from pathlib import Path

from atlaspatch.api.hosting.metrics import ServiceMetrics
from atlaspatch.api.hosting.server import ModelServer, ServerSettings
from atlaspatch.api.v1 import segmenter_pb2_grpc
from atlaspatch.segmenter_service.handler import build_segmenter_handler
from atlaspatch.segmenter_service.servicer import SegmenterServicer

SERVICE_NAME = "atlaspatch.v1.Segmenter"
# Thumbnails are a few megabytes each; a client batching more is a client bug.
MAX_THUMBNAILS = 64


def segmenter_server(
    settings: ServerSettings,
    model: str,
    device: str = "cpu",
    checkpoint: Path | None = None,
    triton_url: str | None = None,
    artifact_model: str | None = None,
    artifact_checkpoint: Path | None = None,
) -> ModelServer:
    """The segmenter service hosting `model`, or forwarding to it in Triton at `triton_url`;
    with `artifact_model`, it also scores patches with that model."""
    handler = build_segmenter_handler(model, device, checkpoint, triton_url, MAX_THUMBNAILS)
    artifacts = None
    if artifact_model:
        from atlaspatch.segmenter_service.artifacts_handler import build_artifacts_handler

        artifacts = build_artifacts_handler(artifact_model, device, artifact_checkpoint)
    servicer = SegmenterServicer(handler, artifacts)

    def add(server) -> None:
        segmenter_pb2_grpc.add_SegmenterServicer_to_server(servicer, server)

    return ModelServer(settings, SERVICE_NAME, add, ServiceMetrics("segmenter"))
