"""Requests that used to exhaust or stall the encoder service: many tiny patches in one
request, an encoder named thousands of times, work whose caller has gone, a megabyte of
encoder name, a slow load, and every precision loaded side by side."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest

from atlaspatch.api import wire
from atlaspatch.api.hosting.server import ServerSettings
from atlaspatch.api.v1 import encoder_pb2, encoder_pb2_grpc
from atlaspatch.encoder_service.registry import EncoderRegistry
from atlaspatch.encoder_service.serving.batcher import DynamicBatcher
from atlaspatch.encoder_service.serving.handler import Batching
from atlaspatch.encoder_service.serving.server import encoder_server
from tests.background_server import BackgroundServer
from tests.conftest import REPO
from tests.service_helpers import (
    code_of,
    embed_request,
    free_port,
    peak_rss_bytes,
    start_encoder,
    stub,
    wait_until_serving,
)

LITE = "efficientnet_lite0"
RNG = np.random.default_rng(3)


def test_many_tiny_patches_in_one_request_cost_what_one_pass_costs() -> None:
    # Each 16x16 patch is resized to 224x224 before the network: 256 of them (196 KB on the
    # wire) in one pass took 3.3 GiB more than idle; 1,024 took 13.9 GiB with convnext.
    port = free_port()
    command = [
        sys.executable, "-m", "atlaspatch.orchestrator.cli",
        "serve", "encoder", "--port", str(port),
        "--encoders", LITE, "--device", "cpu", "--grace-seconds", "0", "--max-batch-size", "64",
    ]  # fmt: skip
    service = subprocess.Popen(command, cwd=REPO, stderr=subprocess.DEVNULL)
    try:
        wait_until_serving(f"127.0.0.1:{port}")
        idle = peak_rss_bytes(service.pid)
        tiny = RNG.integers(0, 255, (256, 16, 16, 3), dtype=np.uint8)
        one_pass = stub(f"127.0.0.1:{port}").Embed(embed_request(tiny[:64]), timeout=60)
        after_one_pass = peak_rss_bytes(service.pid)
        channel = grpc.insecure_channel(
            f"127.0.0.1:{port}", [("grpc.max_receive_message_length", 64 * 2**20)]
        )
        whole = encoder_pb2_grpc.EncoderStub(channel).Embed(embed_request(tiny), timeout=600)
        after_whole = peak_rss_bytes(service.pid)
    finally:
        service.terminate()
        service.wait(30)
    matrix = wire.embedding_from_proto(whole.embeddings[0])
    assert matrix.shape == (256, 1280)
    np.testing.assert_allclose(
        matrix[:64], wire.embedding_from_proto(one_pass.embeddings[0]), rtol=1e-4, atol=1e-4
    )
    pass_cost = after_one_pass - idle
    assert after_whole - after_one_pass < pass_cost / 2, (idle, after_one_pass, after_whole)


def test_a_patch_over_the_pass_budget_is_refused() -> None:
    batching = Batching(max_pass_pixels=300 * 300)
    with BackgroundServer(
        lambda: encoder_server(ServerSettings(), EncoderRegistry(), [LITE], batching=batching)[0]
    ) as server:
        big = np.zeros((1, 400, 400, 3), np.uint8)
        with pytest.raises(grpc.RpcError) as error:
            stub(server.address).Embed(embed_request(big), timeout=30)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "400x400 px is over the service's budget of 90,000 px" in error.value.details()


def test_a_few_tiles_named_by_many_regions_are_refused_before_decoding(encoder_service) -> None:
    # 4,096 regions of 4,096 px on one 2 KB tile: 206 GB once decoded.
    request = encoder_pb2.EmbedRequest(encoders=[LITE])
    tiled = request.tiled
    tiled.patch_size = tiled.read_size = 4096
    tiled.level_width = tiled.level_height = tiled.tile_width = tiled.tile_height = 4096
    tiled.tiles.append(b"\xff\xd8" + bytes(2048))
    for _ in range(4096):
        tiled.regions.add(x=0, y=0, tiles=[0], tile_x=[0], tile_y=[0])
    with pytest.raises(grpc.RpcError) as error:
        stub(encoder_service.address).Embed(request, timeout=30)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "4096 regions of 4096x4096 px would decode to 206,158,430,208 bytes" in (
        error.value.details()
    )


def test_an_encoder_named_twice_is_refused(encoder_service) -> None:
    # 4,096 repetitions of one name kept the service busy for 112 s with one patch.
    request = embed_request(names=[LITE] * 4096)
    assert code_of(lambda: stub(encoder_service.address).Embed(request, timeout=30)) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )


def test_a_megabyte_of_encoder_name_is_not_found_and_not_echoed(encoder_service) -> None:
    for request in (
        embed_request(names=["x" * 2**20]),
        encoder_pb2.EmbedRequest(**{**_fields(embed_request()), "precision": "y" * 2**20}),
    ):
        with pytest.raises(grpc.RpcError) as error:
            stub(encoder_service.address).Embed(request, timeout=30)
        assert error.value.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT)
        assert len(error.value.details()) < 300
        assert "1,048,576 characters" in error.value.details()


def _fields(request: encoder_pb2.EmbedRequest) -> dict:
    return {"encoders": list(request.encoders), "patches": request.patches}


def test_requests_whose_deadline_passed_in_the_queue_are_never_computed() -> None:
    with start_encoder(max_batch_size=64) as server:
        metrics = server.server.metrics
        computed = lambda: metrics.value("atlaspatch_batch_patches_sum")  # noqa: E731
        before = computed()
        full = RNG.integers(0, 255, (64, 224, 224, 3), dtype=np.uint8)  # a pass each
        with ThreadPoolExecutor(10) as pool:
            passes = [
                pool.submit(stub(server.address).Embed, embed_request(full), timeout=600)
                for _ in range(2)
            ]
            time.sleep(0.5)  # the first pass runs, the second waits: a second or more each
            short = [
                pool.submit(stub(server.address).Embed, embed_request(full[:4]), timeout=0.3)
                for _ in range(8)
            ]
            codes = [code_of(future.result) for future in short]
            assert all(len(p.result().embeddings) == 1 for p in passes)
        stop = time.monotonic() + 30
        while metrics.value("atlaspatch_queue_patches") and time.monotonic() < stop:
            time.sleep(0.1)
    assert codes == [grpc.StatusCode.DEADLINE_EXCEEDED] * 8
    assert computed() - before == 128  # the abandoned 32 patches never ran


def test_a_large_request_takes_turns_with_small_ones() -> None:
    with start_encoder(max_batch_size=4) as server:
        large = RNG.integers(0, 255, (256, 224, 224, 3), dtype=np.uint8)  # 64 passes of 4
        with ThreadPoolExecutor(1) as pool:
            running = pool.submit(stub(server.address).Embed, embed_request(large), timeout=600)
            time.sleep(0.5)
            small = stub(server.address).Embed(embed_request(large[:4]), timeout=600)
            # Served between two of the large request's passes, not after all 64 of them.
            assert not running.done()
            assert len(running.result().embeddings) == 1
    assert wire.embedding_from_proto(small.embeddings[0]).shape == (4, 1280)


def test_a_lone_large_request_still_fills_every_pass() -> None:
    with start_encoder(max_batch_size=8) as server:
        metrics = server.server.metrics
        passes = lambda: metrics.value("atlaspatch_batch_patches_count")  # noqa: E731
        before = passes()
        large = RNG.integers(0, 255, (64, 64, 64, 3), dtype=np.uint8)
        stub(server.address).Embed(embed_request(large), timeout=600)
        assert passes() - before == 8  # 64 patches in full passes of 8, though cut in parts of 2


def test_a_large_request_fills_passes_only_while_nobody_else_waits() -> None:
    passes: list[tuple[int, int]] = []

    def run(batch: np.ndarray) -> np.ndarray:
        passes.append((batch.shape[1], len(batch)))
        return np.zeros((len(batch), 1), np.float32)

    async def main() -> None:
        with ThreadPoolExecutor(1) as pool:
            batcher = DynamicBatcher(run, pool, max_batch_size=8, max_delay=0)
            large = np.zeros((64, 64, 64, 3), np.uint8)  # parts of 2 (a quarter pass)
            other = np.zeros((16, 32, 32, 3), np.uint8)
            await asyncio.gather(batcher.submit(large), batcher.submit(other))

    asyncio.run(main())
    # One part each a turn while both wait, then the large one alone in full passes.
    assert passes[:16] == [(64, 2), (32, 2)] * 8
    assert passes[16:] == [(64, 8)] * 6


def test_loaded_encoders_past_the_budget_release_the_least_recently_used() -> None:
    # Each precision is another copy of the weights: 13.7 MB in float32, 6.8 MB in halves
    # once loaded, and room is made beforehand for the weights file's 18.8 MB and 9.4 MB.
    budget = 27_000_000
    build = lambda: encoder_server(  # noqa: E731
        ServerSettings(), EncoderRegistry(), [LITE], max_loaded_bytes=budget
    )[0]
    with BackgroundServer(build) as server:
        service = stub(server.address)

        def loaded() -> list[tuple[str, str]]:
            listed = service.ListEncoders(encoder_pb2.ListEncodersRequest(), timeout=30)
            return sorted((info.name, info.precision) for info in listed.encoders)

        first = service.Embed(embed_request(), timeout=60).embeddings[0].values
        for precision in ("bfloat16", "float16"):
            request = embed_request()
            request.precision = precision
            service.Embed(request, timeout=60)
        assert loaded() == [(LITE, "bfloat16"), (LITE, "float16")]
        again = service.Embed(embed_request(), timeout=60).embeddings[0].values  # loaded anew
        assert loaded() == [(LITE, "float16"), (LITE, "float32")]
    assert again == first
