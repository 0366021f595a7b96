"""The model services over real gRPC on 127.0.0.1: status codes, batching across clients,
auth, TLS, retries, and output equal to the in-process pipeline."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import h5py
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from client import wire
from client.channel import Endpoint
from client.pb import encoder_pb2, encoder_pb2_grpc
from client.remote import RemoteEncoders, RemoteSegmenter
from encoder_service.registry import EncoderRegistry
from orchestrator.serving.background import BackgroundServer
from orchestrator.serving.server import ServerSettings
from orchestrator.serving.services import encoder_server, segmenter_server
from tests.cli import coords_run, process_run

PATCHES = np.random.default_rng(0).integers(0, 255, (3, 64, 64, 3), dtype=np.uint8)


def start_encoder(settings: ServerSettings | None = None, **kwargs) -> BackgroundServer:
    settings = settings or ServerSettings()
    return BackgroundServer(
        lambda: encoder_server(settings, EncoderRegistry(), ["efficientnet_lite0"], **kwargs)[0]
    )


def embed_request(
    patches: np.ndarray = PATCHES, names=("efficientnet_lite0",)
) -> encoder_pb2.EmbedRequest:
    return encoder_pb2.EmbedRequest(encoders=list(names), patches=wire.patches_to_proto(patches))


@pytest.fixture(scope="module")
def encoder_service():
    with start_encoder(max_batch_size=64, max_queue_delay_ms=20) as server:
        yield server


def stub(address: str) -> encoder_pb2_grpc.EncoderStub:
    return encoder_pb2_grpc.EncoderStub(grpc.insecure_channel(address))


def code_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as error:
        call()
    return error.value.code()


def test_stubs_are_in_sync_with_the_protos(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "generate", Path(__file__).parents[1] / "proto" / "generate.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for fresh in module.generate(tmp_path):
        committed = Path(__file__).parents[1] / "client" / "pb" / fresh.name
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


def test_bearer_token_required_except_for_health() -> None:
    with start_encoder(ServerSettings(token="s3cret")) as server:
        s = stub(server.address)
        assert (
            code_of(lambda: s.Embed(embed_request(), timeout=30)) == grpc.StatusCode.UNAUTHENTICATED
        )
        wrong = (("authorization", "Bearer nope"),)
        assert (
            code_of(lambda: s.Embed(embed_request(), timeout=30, metadata=wrong))
            == grpc.StatusCode.UNAUTHENTICATED
        )
        right = RemoteEncoders(
            Endpoint.parse(server.address, token="s3cret"), ["efficientnet_lite0"]
        )
        assert right.embed(PATCHES)["efficientnet_lite0"].shape == (3, 1280)
        health = health_pb2_grpc.HealthStub(grpc.insecure_channel(server.address))
        assert (
            health.Check(health_pb2.HealthCheckRequest(), timeout=10).status
            == health_pb2.HealthCheckResponse.SERVING
        )


def self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_tls_accepts_trusting_clients_and_refuses_plaintext(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    with start_encoder(ServerSettings(tls_cert=cert, tls_key=key)) as server:
        secure = RemoteEncoders(
            Endpoint.parse(f"grpcs://localhost:{server.server.port}", ca_cert=cert),
            ["efficientnet_lite0"],
        )
        assert secure.embed(PATCHES)["efficientnet_lite0"].shape == (3, 1280)
        assert (
            code_of(lambda: stub(server.address).Embed(embed_request(), timeout=10))
            == grpc.StatusCode.UNAVAILABLE
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


def test_process_through_both_services_equals_in_process(tmp_path: Path, synthetic_slide) -> None:
    with (
        BackgroundServer(lambda: segmenter_server(ServerSettings(), "otsu")) as segmenter,
        start_encoder() as encoder,
    ):
        remote = process_run(
            synthetic_slide.path,
            tmp_path / "remote",
            "--feature-extractors",
            "efficientnet_lite0",
            "--segmenter-url",
            segmenter.address,
            "--encoder-url",
            f"grpc://{encoder.address}",
        )
        assert remote.exit_code == 0, remote.output
        assert (
            RemoteSegmenter(Endpoint.parse(segmenter.address), "otsu").provenance()["tissue_model"]
            == "otsu"
        )
    local = process_run(
        synthetic_slide.path, tmp_path / "local", "--feature-extractors", "efficientnet_lite0"
    )
    assert local.exit_code == 0, local.output
    with (
        h5py.File(tmp_path / "remote/patches/synthetic-40x.h5") as r,
        h5py.File(tmp_path / "local/patches/synthetic-40x.h5") as here,
    ):
        assert np.array_equal(r["coords"][...], here["coords"][...])
        a, b = r["features/efficientnet_lite0"][...], here["features/efficientnet_lite0"][...]
        cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        assert cosine.min() >= 0.9999
        assert r.attrs["tissue_model"] == here.attrs["tissue_model"] == "otsu"


def test_coordinates_through_the_segmenter_service(tmp_path: Path, synthetic_slide) -> None:
    with BackgroundServer(lambda: segmenter_server(ServerSettings(), "otsu")) as segmenter:
        result = coords_run(
            synthetic_slide.path, tmp_path / "remote", "--segmenter-url", segmenter.address
        )
        assert result.exit_code == 0, result.output
        wrong_model = coords_run(
            synthetic_slide.path,
            tmp_path / "x",
            "--segmenter-url",
            segmenter.address,
            "--tissue-model",
            "sam2",
        )
        assert wrong_model.exit_code != 0
    assert coords_run(synthetic_slide.path, tmp_path / "local").exit_code == 0
    with (
        h5py.File(tmp_path / "remote/patches/synthetic-40x.h5") as r,
        h5py.File(tmp_path / "local/patches/synthetic-40x.h5") as here,
    ):
        assert np.array_equal(r["coords"][...], here["coords"][...])


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
    from client.retry import with_retries

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
