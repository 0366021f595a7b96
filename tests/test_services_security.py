"""Auth and TLS on the model services: a bearer token for everything but health, and TLS
that trusting clients reach and plaintext clients do not."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from atlaspatch.api.hosting.server import ServerSettings
from atlaspatch.api.v1 import encoder_pb2_grpc
from atlaspatch.client.channel import Endpoint
from atlaspatch.client.remote import RemoteEncoders
from tests.conftest import REPO
from tests.service_helpers import (
    PATCHES,
    code_of,
    embed_request,
    free_port,
    peak_rss_bytes,
    start_encoder,
    stub,
    wait_until_serving,
)


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


def test_mutual_tls_serves_only_clients_with_a_certificate_its_ca_signed(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    (tmp_path / "lab").mkdir()
    (tmp_path / "stranger").mkdir()
    lab_cert, lab_key = self_signed(tmp_path / "lab")  # its own CA
    stranger_cert, stranger_key = self_signed(tmp_path / "stranger")
    settings = ServerSettings(tls_cert=cert, tls_key=key, tls_client_ca=lab_cert)
    with start_encoder(settings) as server:
        url = f"grpcs://localhost:{server.server.port}"

        def embed(client_cert: Path | None, client_key: Path | None):
            endpoint = Endpoint.parse(url, None, cert, client_cert, client_key)
            return RemoteEncoders(endpoint, ["efficientnet_lite0"]).embed(PATCHES)

        assert embed(lab_cert, lab_key)["efficientnet_lite0"].shape == (3, 1280)
        for client_cert, client_key in ((None, None), (stranger_cert, stranger_key)):
            credentials = grpc.ssl_channel_credentials(
                root_certificates=cert.read_bytes(),
                private_key=client_key.read_bytes() if client_key else None,
                certificate_chain=client_cert.read_bytes() if client_cert else None,
            )
            secure = grpc.secure_channel(f"localhost:{server.server.port}", credentials)
            embed_there = encoder_pb2_grpc.EncoderStub(secure).Embed
            assert code_of(lambda: embed_there(embed_request(), timeout=10)) == (  # noqa: B023
                grpc.StatusCode.UNAVAILABLE
            )


def test_unauthenticated_calls_are_refused_before_their_message_is_held() -> None:
    # Four concurrent unauthenticated 201 MB requests raised a service from 1.0 to 3.0 GiB.
    port = free_port()
    command = [
        sys.executable, "-m", "atlaspatch.orchestrator.cli",
        "serve", "encoder", "--port", str(port),
        "--encoders", "efficientnet_lite0", "--token", "s3cret", "--grace-seconds", "0",
    ]  # fmt: skip
    service = subprocess.Popen(command, cwd=REPO, stderr=subprocess.DEVNULL)
    try:
        address = f"127.0.0.1:{port}"
        wait_until_serving(address)
        idle = peak_rss_bytes(service.pid)
        request = embed_request(np.zeros((300, 256, 256, 3), np.uint8))  # 59 MB
        channel = grpc.insecure_channel(address, [("grpc.max_send_message_length", 2**30)])
        embed = encoder_pb2_grpc.EncoderStub(channel).Embed
        with ThreadPoolExecutor(4) as pool:
            codes = list(pool.map(lambda _: code_of(lambda: embed(request, timeout=60)), range(4)))
        grown = peak_rss_bytes(service.pid) - idle
    finally:
        service.terminate()
        service.wait(30)
    assert codes == [grpc.StatusCode.UNAUTHENTICATED] * 4
    assert grown < 60e6  # not even one of the 59 MB messages was held (580 MB before)
