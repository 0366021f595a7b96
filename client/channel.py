"""Channels to the services: address forms, TLS, bearer token, keepalive, message limits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc

from atlaspatch.api.errors import InvalidInput

MAX_MESSAGE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Endpoint:
    target: str  # host:port
    tls: bool = False
    token: str | None = None
    ca_cert: Path | None = None  # trust this CA (or self-signed cert) instead of the system's
    # Mutual TLS: this client's certificate and key, for services that require one.
    client_cert: Path | None = None
    client_key: Path | None = None

    @classmethod
    def parse(
        cls,
        url: str,
        token: str | None = None,
        ca_cert: Path | None = None,
        client_cert: Path | None = None,
        client_key: Path | None = None,
    ) -> Endpoint:
        """`host:port`, `grpc://host:port` or `grpcs://host:port` (TLS)."""
        if bool(client_cert) != bool(client_key):
            raise InvalidInput("a client certificate needs its key, and a key its certificate")
        tls = url.startswith("grpcs://")
        target = url.split("://", 1)[1] if "://" in url else url
        if not target or ":" not in target:
            raise InvalidInput(
                f"{url!r}: expected host:port, grpc://host:port or grpcs://host:port"
            )
        tls = tls or ca_cert is not None or client_cert is not None
        return cls(target.rstrip("/"), tls, token, ca_cert, client_cert, client_key)


def open_channel(endpoint: Endpoint) -> grpc.Channel:
    options = [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
    ]
    if not endpoint.tls:
        return grpc.insecure_channel(endpoint.target, options=options)
    root = endpoint.ca_cert.read_bytes() if endpoint.ca_cert else None
    key = endpoint.client_key.read_bytes() if endpoint.client_key else None
    chain = endpoint.client_cert.read_bytes() if endpoint.client_cert else None
    credentials = grpc.ssl_channel_credentials(
        root_certificates=root, private_key=key, certificate_chain=chain
    )
    return grpc.secure_channel(endpoint.target, credentials, options=options)


def call_metadata(endpoint: Endpoint) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {endpoint.token}"),) if endpoint.token else ()
