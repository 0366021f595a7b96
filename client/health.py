"""Asking a service whether it serves (container health checks, exec probes)."""

from __future__ import annotations

from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from atlaspatch.client.channel import Endpoint, open_channel


def serving_status(
    url: str,
    ca_cert: Path | None = None,
    timeout: float = 3.0,
    client_cert: Path | None = None,
    client_key: Path | None = None,
) -> str:
    """The service's health status by name ("SERVING", "NOT_SERVING", ...), or the status
    of the failed call ("UNAVAILABLE", "DEADLINE_EXCEEDED", ...)."""
    endpoint = Endpoint.parse(url, ca_cert=ca_cert, client_cert=client_cert, client_key=client_key)
    channel = open_channel(endpoint)
    try:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=timeout
        )
    except grpc.RpcError as error:
        return error.code().name  # type: ignore[attr-defined]
    finally:
        channel.close()
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
