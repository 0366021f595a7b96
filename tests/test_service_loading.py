"""What clients can make a shared encoder service load: only what its operator allowed, never
downloaded unless allowed, never starving requests for loaded encoders, and never past the
memory budget, even when loads run side by side."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
import torch

from atlaspatch.api.errors import Exhausted
from atlaspatch.api.hosting.server import ServerSettings
from atlaspatch.api.v1 import encoder_pb2
from atlaspatch.encoder_service.custom import CustomEncoderComponents, CustomEncoderEntry
from atlaspatch.encoder_service.networks.weights import resolve_weights
from atlaspatch.encoder_service.registry import EncoderRegistry
from atlaspatch.encoder_service.serving.handler import EncoderHandler
from atlaspatch.encoder_service.serving.load_policy import LoadPolicy
from atlaspatch.encoder_service.serving.loaded import LoadedEncoders
from atlaspatch.encoder_service.serving.server import encoder_server
from tests.background_server import BackgroundServer
from tests.service_helpers import embed_request, stub

LITE = "efficientnet_lite0"


def _slow_entry(entered: threading.Event, release: threading.Event) -> CustomEncoderEntry:
    def load(device: torch.device, dtype: torch.dtype) -> CustomEncoderComponents:
        entered.set()
        release.wait(60)  # weights on slow storage, or a hub that does not answer
        model = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
        return CustomEncoderComponents(model, lambda image: torch.zeros(3, 8, 8), model)

    return CustomEncoderEntry("slow_to_load", 3, load)


def _server(
    registry: EncoderRegistry, policy: LoadPolicy | None = None, **more
) -> BackgroundServer:
    return BackgroundServer(
        lambda: encoder_server(ServerSettings(), registry, [LITE], load_policy=policy, **more)[0]
    )


def test_loads_never_starve_requests_for_loaded_encoders() -> None:
    # Six concurrent Loads held every shared thread for 31-47 s, and a 1-patch Embed on a
    # loaded encoder waited 30.6 s instead of 0.04 s.
    registry = EncoderRegistry()
    entered, release = threading.Event(), threading.Event()
    registry.register_custom(_slow_entry(entered, release))
    policy = LoadPolicy.serving([LITE], ["slow_*"])
    with _server(registry, policy) as server, ThreadPoolExecutor(12) as pool:
        request = encoder_pb2.LoadRequest(encoders=["slow_to_load"])
        loads = [pool.submit(stub(server.address).Load, request, timeout=120) for _ in range(12)]
        assert entered.wait(60)
        try:  # every load is under way or queued, and stays so until this is answered
            answer = stub(server.address).Embed(embed_request(), timeout=30)
            assert not any(load.done() for load in loads)
        finally:
            release.set()
        assert answer.embeddings[0].encoder == LITE
        assert all(load.result().encoders[0].name == "slow_to_load" for load in loads)


def test_a_client_cannot_load_what_the_operator_did_not_allow() -> None:
    with _server(EncoderRegistry()) as server:
        for call in (
            lambda: stub(server.address).Load(
                encoder_pb2.LoadRequest(encoders=["resnet18"]), timeout=30
            ),
            lambda: stub(server.address).Embed(embed_request(names=["resnet18"]), timeout=30),
        ):
            with pytest.raises(grpc.RpcError) as error:
                call()
            assert error.value.code() == grpc.StatusCode.NOT_FOUND
            assert "'resnet18' is not served here; this service loads efficientnet_lite0" in (
                error.value.details()
            )
        listed = stub(server.address).ListEncoders(encoder_pb2.ListEncodersRequest(), timeout=30)
        assert [info.name for info in listed.encoders] == [LITE]


def test_weights_are_fetched_for_a_client_only_where_the_operator_allows(tmp_path) -> None:
    policy = LoadPolicy.serving([LITE], ["uni_v1"], allow_download=False)
    request = encoder_pb2.LoadRequest(encoders=["uni_v1"])
    with (
        _server(EncoderRegistry(), policy, weights_dir=tmp_path) as server,
        pytest.raises(grpc.RpcError) as error,
    ):
        stub(server.address).Load(request, timeout=60)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    assert "no weights for encoder 'uni_v1'" in error.value.details()
    assert "Hugging Face hub (" not in error.value.details()  # the hub was never asked


def test_an_encoder_that_cannot_fit_is_refused_before_it_loads() -> None:
    registry = EncoderRegistry()
    spec = registry.spec(LITE)
    assert spec is not None
    path = resolve_weights(spec).path
    read = torch.load(path, map_location="cpu", weights_only=True)  # every byte, this time
    numbers = sum(tensor.numel() for tensor in read.values())
    # From the weights file's index alone, at two bytes a number (this file is in torch's
    # legacy format, which has no index: its size says it, to within the pickle's framing).
    assert registry.estimated_bytes(LITE, "float16") == pytest.approx(2 * numbers, rel=0.01)
    built: list[str] = []
    original = registry.create
    registry.create = lambda *args, **kwargs: built.append(args[0]) or original(*args, **kwargs)  # type: ignore[method-assign]
    handler = EncoderHandler(
        registry, max_loaded_bytes=12_000_000, load_policy=LoadPolicy.serving([LITE])
    )
    handler.preload([])
    with pytest.raises(Exhausted, match="needs about 0.02 GiB; this service holds at most 0.01"):
        handler.load([LITE], "float32")
    assert built == [] and handler.describe() == []
    assert handler.load([LITE], "float16")[0].encoder == LITE  # 9.3 MB: fits


class _Held:
    def __init__(self, size: int):
        self.size = size

    def memory_bytes(self) -> int:
        return self.size


def test_concurrent_loads_together_stay_within_the_budget() -> None:
    # 12 concurrent Loads took a service from 0.95 to 3.27 GiB against a 0.5 GiB budget.
    live, most, lock = [0], [0], threading.Lock()

    def load(key):
        with lock:
            live[0] += 40
            most[0] = max(most[0], live[0])
        time.sleep(0.05)  # reading weights
        return _Held(40)

    def release(entry: _Held) -> None:
        with lock:
            live[0] -= entry.size

    loaded = LoadedEncoders(load, 100, release, estimate=lambda key: 40)
    with ThreadPoolExecutor(12) as pool:
        list(pool.map(lambda i: loaded.get((f"encoder{i}", "float32")), range(12)))
    assert most[0] <= 100
    assert sum(entry.memory_bytes() for entry in loaded.entries()) <= 100
    with pytest.raises(Exhausted, match="needs about .* GiB; this service holds at most"):
        LoadedEncoders(load, 100, release, estimate=lambda key: 101).get(("huge", "float32"))
