"""The encoder service assembled: source, handler, servicer, server."""

from __future__ import annotations

from pathlib import Path

from atlaspatch.api.hosting.metrics import ServiceMetrics
from atlaspatch.api.hosting.server import ModelServer, ServerSettings
from atlaspatch.api.v1 import encoder_pb2_grpc
from atlaspatch.encoder_service.serving.encoder_source import EncoderSource
from atlaspatch.encoder_service.serving.handler import Batching, EncoderHandler
from atlaspatch.encoder_service.serving.load_policy import LoadPolicy
from atlaspatch.encoder_service.serving.servicer import EncoderServicer
from atlaspatch.encoder_service.slide_encoders.host import SlideEncoderHost

SERVICE_NAME = "atlaspatch.v1.Encoder"
DEFAULT_LOADED_BYTES = 8 * 2**30
DEFAULT_DECODED_BYTES = 2**30


def encoder_server(
    settings: ServerSettings,
    source: EncoderSource,
    preload: list[str],
    device: str = "cpu",
    precision: str = "",
    weights_dir: Path | None = None,
    batching: Batching | None = None,
    max_loaded_bytes: int | None = DEFAULT_LOADED_BYTES,
    load_policy: LoadPolicy | None = None,
    max_decoded_bytes: int = DEFAULT_DECODED_BYTES,
    slide_encoders: tuple[str, ...] = (),
) -> tuple[ModelServer, EncoderHandler]:
    """`source` is the encoder registry, or Triton (which batches itself); `precision` is the
    default of requests that name none ("": the source's default for `device`); past
    `max_loaded_bytes` of weights the least recently used encoders are released; clients
    may have loaded what `load_policy` allows (default: `preload` only); tiled requests in
    progress decode to at most `max_decoded_bytes` together. Slide and patient encoders
    (`slide_encoders` loaded at start; clients may have others the policy allows loaded,
    and the weight-free mean pool always) run on the same device."""
    metrics = ServiceMetrics("encoder")
    policy = load_policy or LoadPolicy.serving(preload)
    batching = batching or Batching()
    handler = EncoderHandler(
        source,
        device,
        precision,
        weights_dir,
        batching,
        metrics,
        # One request never holds more patches than the queue may.
        max_patches_per_request=batching.max_queue,
        warm_up_batch=batching.max_batch_size,
        max_loaded_bytes=max_loaded_bytes,
        load_policy=policy,
    )
    handler.preload(preload)
    slide_host = SlideEncoderHost(device, weights_dir, policy.also(slide_encoders))
    slide_host.preload(slide_encoders)
    servicer = EncoderServicer(
        handler, slide_host, max_patches=batching.max_queue, max_decoded_bytes=max_decoded_bytes
    )

    def add(server) -> None:
        encoder_pb2_grpc.add_EncoderServicer_to_server(servicer, server)

    async def close() -> None:
        servicer.close()
        await handler.close()

    return ModelServer(settings, SERVICE_NAME, add, metrics, close), handler
