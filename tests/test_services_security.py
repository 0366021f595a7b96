"""Auth and TLS on the model services: a bearer token for everything but health, and TLS
that trusting clients reach and plaintext clients do not."""

from __future__ import annotations

import subprocess
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from atlaspatch_api.hosting.server import ServerSettings
from client.channel import Endpoint
from client.remote import RemoteEncoders
from tests.service_helpers import PATCHES, code_of, embed_request, start_encoder, stub


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
