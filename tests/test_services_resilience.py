"""Model services that stop and come back: clients retry while the service restarts, health
says NOT_SERVING first, a run survives an encoder restart, a cancelled call is sent again."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import grpc
import h5py
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from atlaspatch.api import wire
from atlaspatch.api.hosting.server import ServerSettings
from atlaspatch.client.channel import Endpoint
from atlaspatch.client.remote import RemoteEncoders
from tests.background_server import BackgroundServer
from tests.cli import process_run
from tests.service_helpers import PATCHES, embed_request, free_port, start_encoder, stub


def test_client_retries_while_the_service_restarts() -> None:
    port = free_port()
    settings = ServerSettings(port=port, grace_seconds=0)
    first = start_encoder(settings)
    client = RemoteEncoders(Endpoint.parse(f"127.0.0.1:{port}"), ["efficientnet_lite0"])
    expected = client.embed(PATCHES)["efficientnet_lite0"]
    first.stop()
    restarted: list[BackgroundServer] = []
    timer = threading.Timer(1.5, lambda: restarted.append(start_encoder(settings)))
    timer.start()
    try:
        started = time.monotonic()
        again = client.embed(PATCHES)["efficientnet_lite0"]  # the service is down for ~1.5 s
        assert time.monotonic() - started >= 1.0
        assert np.allclose(again, expected, atol=1e-6)
    finally:
        timer.join()
        for server in restarted:
            server.stop()


def test_graceful_stop_reports_not_serving_first() -> None:
    server = start_encoder()
    health = health_pb2_grpc.HealthStub(grpc.insecure_channel(server.address))
    server._call(server.server.set_serving(False))  # noqa: SLF001 - the first step of stop()
    answer = health.Check(
        health_pb2.HealthCheckRequest(service="atlaspatch.v1.Encoder"), timeout=10
    )
    assert answer.status == health_pb2.HealthCheckResponse.NOT_SERVING
    server.stop()


def test_a_run_survives_an_encoder_restart_and_matches_a_clean_run(
    tmp_path: Path, synthetic_slide
) -> None:
    port = free_port()
    settings = ServerSettings(port=port, grace_seconds=0)
    first = start_encoder(settings)
    outcome: dict = {}

    def run() -> None:
        outcome["result"] = process_run(
            synthetic_slide.path,
            tmp_path / "restarted",
            "--feature-extractors",
            "efficientnet_lite0",
            "--encoder-url",
            f"127.0.0.1:{port}",
            "--feature-batch-size",
            "2",
        )

    worker = threading.Thread(target=run)
    worker.start()
    served = lambda server: server.server.metrics.value(  # noqa: E731
        "atlaspatch_requests_total", method="Embed", code="OK"
    )
    deadline = time.monotonic() + 120
    while served(first) < 4 and time.monotonic() < deadline:  # the run is under way
        time.sleep(0.05)
    first.stop()
    time.sleep(1.0)
    second = start_encoder(settings)
    worker.join(timeout=300)
    try:
        result = outcome["result"]
        assert result.exit_code == 0, result.output
        assert served(second) > 0  # the run went on against the restarted service
    finally:
        second.stop()
    clean = process_run(
        synthetic_slide.path, tmp_path / "clean", "--feature-extractors", "efficientnet_lite0"
    )
    assert clean.exit_code == 0
    with (
        h5py.File(tmp_path / "restarted/patches/synthetic-40x.h5") as restarted,
        h5py.File(tmp_path / "clean/patches/synthetic-40x.h5") as reference,
    ):
        assert np.array_equal(restarted["coords"][...], reference["coords"][...])
        a, b = (
            restarted["features/efficientnet_lite0"][...],
            reference["features/efficientnet_lite0"][...],
        )
        assert (
            (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        ).min() >= 0.9999


def test_a_call_cancelled_by_a_stopping_server_is_sent_again(encoder_service) -> None:
    from atlaspatch.client.retry import with_retries

    # What the client sees when the server stops in the middle of its call (the restart test
    # above meets it only when the timing is unlucky).
    cancelled = grpc.RpcError()
    cancelled.code = lambda: grpc.StatusCode.CANCELLED  # type: ignore[attr-defined]
    attempts: list[int] = []

    def call() -> np.ndarray:
        attempts.append(1)
        if len(attempts) == 1:
            raise cancelled
        response = stub(encoder_service.address).Embed(embed_request(), timeout=60)
        return wire.embedding_from_proto(response.embeddings[0])

    assert with_retries(call, "test", first_wait=0.01).shape == (3, 1280)
    assert len(attempts) == 2
