"""The encoder service over real gRPC on 127.0.0.1: stubs in sync with the protos, output
equal to the in-process encoder, status codes, health and reflection, batching across
clients, and a full queue."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from atlaspatch.api import wire
from atlaspatch.api.v1 import encoder_pb2
from atlaspatch.encoder_service.registry import EncoderRegistry
from tests.service_helpers import PATCHES, code_of, embed_request, start_encoder, stub


def test_stubs_are_in_sync_with_the_protos(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "generate", Path(__file__).parents[1] / "proto" / "generate.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for fresh in module.generate(tmp_path):
        committed = Path(__file__).parents[1] / "proto" / "atlaspatch_api" / "v1" / fresh.name
        assert committed.read_text() == fresh.read_text(), (
            f"run `make proto`: {fresh.name} is stale"
        )


def test_embed_matches_in_process(encoder_service) -> None:
    response = stub(encoder_service.address).Embed(embed_request(), timeout=60)
    remote = wire.embedding_from_proto(response.embeddings[0])
    import torch

    local = (
        EncoderRegistry()
        .create("efficientnet_lite0")
        .embed(torch.from_numpy(PATCHES.copy()))
        .numpy()
    )
    assert remote.shape == (3, 1280)
    assert np.allclose(remote, local, atol=1e-5)


def test_status_codes(encoder_service) -> None:
    s = stub(encoder_service.address)
    assert (
        code_of(lambda: s.Embed(embed_request(names=("nope",)), timeout=30))
        == grpc.StatusCode.NOT_FOUND
    )
    bad = encoder_pb2.EmbedRequest(
        encoders=["efficientnet_lite0"],
        patches=encoder_pb2.PatchBatch(count=2, height=8, width=8, pixels=b"x"),
    )
    assert code_of(lambda: s.Embed(bad, timeout=30)) == grpc.StatusCode.INVALID_ARGUMENT
    assert (
        code_of(lambda: s.Embed(embed_request(names=()), timeout=30))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    precision = encoder_pb2.EmbedRequest(
        encoders=["efficientnet_lite0"], precision="float8", patches=wire.patches_to_proto(PATCHES)
    )
    assert code_of(lambda: s.Embed(precision, timeout=30)) == grpc.StatusCode.INVALID_ARGUMENT
    assert (
        code_of(lambda: s.Embed(embed_request(), timeout=0.0001))
        == grpc.StatusCode.DEADLINE_EXCEEDED
    )


def test_health_and_reflection(encoder_service) -> None:
    channel = grpc.insecure_channel(encoder_service.address)
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "atlaspatch.v1.Encoder"):
        answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    answers = reflection.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    names = {s.name for s in next(answers).list_services_response.service}
    assert {"atlaspatch.v1.Encoder", "grpc.health.v1.Health"} <= names


def test_many_clients_are_merged_into_fewer_forward_passes() -> None:
    with start_encoder(max_batch_size=64, max_queue_delay_ms=20) as server:
        s = stub(server.address)
        with ThreadPoolExecutor(16) as pool:
            results = list(
                pool.map(lambda _: s.Embed(embed_request(PATCHES[:1]), timeout=60), range(64))
            )
        assert all(len(r.embeddings[0].values) == 1280 * 4 for r in results)
        batches = server.server.metrics.value("atlaspatch_batch_requests_count")
        requests = server.server.metrics.value("atlaspatch_batch_requests_sum")
    assert requests == 64 and batches < 64 / 2  # on average more than two requests per pass


def test_full_queue_answers_resource_exhausted() -> None:
    with start_encoder(max_batch_size=4, max_queue_delay_ms=200, max_queue=6) as server:
        s = stub(server.address)
        big = PATCHES[:3]
        with ThreadPoolExecutor(8) as pool:
            futures = [
                pool.submit(lambda: s.Embed(embed_request(big), timeout=60)) for _ in range(8)
            ]
        codes = []
        for future in futures:
            try:
                future.result()
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as error:
                codes.append(error.code())
        assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes and grpc.StatusCode.OK in codes
        assert set(codes) <= {grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.OK}
