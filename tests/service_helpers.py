"""Starting the encoder service in the test process and calling it over real gRPC."""

from __future__ import annotations

import socket

import grpc
import numpy as np
import pytest

from atlaspatch.api import wire
from atlaspatch.api.hosting.server import ServerSettings
from atlaspatch.api.v1 import encoder_pb2, encoder_pb2_grpc
from atlaspatch.encoder_service.registry import EncoderRegistry
from atlaspatch.encoder_service.serving.handler import Batching
from atlaspatch.encoder_service.serving.server import encoder_server
from tests.background_server import BackgroundServer

PATCHES = np.random.default_rng(0).integers(0, 255, (3, 64, 64, 3), dtype=np.uint8)


def start_encoder(
    settings: ServerSettings | None = None,
    max_batch_size: int = 64,
    max_queue_delay_ms: float = 5.0,
    max_queue: int = 4096,
) -> BackgroundServer:
    settings = settings or ServerSettings()
    batching = Batching(max_batch_size, max_queue_delay_ms / 1000, max_queue)
    return BackgroundServer(
        lambda: encoder_server(
            settings, EncoderRegistry(), ["efficientnet_lite0"], batching=batching
        )[0]
    )


def embed_request(
    patches: np.ndarray = PATCHES, names=("efficientnet_lite0",)
) -> encoder_pb2.EmbedRequest:
    return encoder_pb2.EmbedRequest(encoders=list(names), patches=wire.patches_to_proto(patches))


def stub(address: str) -> encoder_pb2_grpc.EncoderStub:
    return encoder_pb2_grpc.EncoderStub(grpc.insecure_channel(address))


def code_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as error:
        call()
    return error.value.code()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(address: str, within: float = 120) -> None:
    """Until the service at `address` reports SERVING (a service started as a process)."""
    import time

    from atlaspatch.client.health import serving_status

    stop = time.monotonic() + within
    while serving_status(address, timeout=1) != "SERVING":
        assert time.monotonic() < stop, f"no service at {address}"
        time.sleep(0.2)


def peak_rss_bytes(pid: int) -> int:
    """The most memory the process `pid` has held so far."""
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024
