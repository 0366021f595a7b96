"""Assembling the two services from their settings: backend, handler, servicer, server."""

from __future__ import annotations

from pathlib import Path

from client.pb import encoder_pb2_grpc, segmenter_pb2_grpc
from encoder_service.handler import EncoderHandler, EncoderSource
from encoder_service.servicer import EncoderServicer
from orchestrator.serving.metrics import ServiceMetrics
from orchestrator.serving.server import ModelServer, ServerSettings
from segmenter_service.backend import SegmenterBackend, create_segmenter
from segmenter_service.servicer import SegmenterServicer

ENCODER_SERVICE = "atlaspatch.v1.Encoder"
SEGMENTER_SERVICE = "atlaspatch.v1.Segmenter"


def encoder_server(
    settings: ServerSettings,
    source: EncoderSource,
    preload: list[str],
    device: str = "cpu",
    precision: str = "float32",
    weights_dir: Path | None = None,
    max_batch_size: int = 64,
    max_queue_delay_ms: float = 5.0,
    max_queue: int = 4096,
) -> tuple[ModelServer, EncoderHandler]:
    """`source` is the encoder registry, or Triton (which batches itself)."""
    metrics = ServiceMetrics("encoder")
    handler = EncoderHandler(
        source,
        device,
        precision,
        weights_dir,
        max_batch_size,
        max_queue_delay_ms / 1000,
        max_queue,
        metrics.batch_stats(),
    )
    handler.preload(preload, precision)
    servicer = EncoderServicer(handler, max_patches_per_request=max_queue)

    def add(server) -> None:
        encoder_pb2_grpc.add_EncoderServicer_to_server(servicer, server)

    return ModelServer(settings, ENCODER_SERVICE, add, metrics, handler.close), handler


def segmenter_server(
    settings: ServerSettings,
    model: str,
    device: str = "cpu",
    checkpoint: Path | None = None,
    triton_url: str | None = None,
) -> ModelServer:
    """The segmenter service hosting `model`, or forwarding to it in Triton at `triton_url`."""
    if triton_url:
        from segmenter_service.triton_forward import TritonSegmenter

        backend: SegmenterBackend = TritonSegmenter(triton_url, model)
    else:
        backend = create_segmenter(model, device, checkpoint)
    servicer = SegmenterServicer(backend)

    def add(server) -> None:
        segmenter_pb2_grpc.add_SegmenterServicer_to_server(servicer, server)

    return ModelServer(settings, SEGMENTER_SERVICE, add, ServiceMetrics("segmenter"))
