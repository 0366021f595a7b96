"""One model service on a grpc.aio server: health, reflection, metrics, auth, TLS, and a
graceful stop (NOT_SERVING first, then drain for `grace_seconds`)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from atlaspatch.api.buffers import keep_freed_buffers
from atlaspatch.api.hosting.interceptors import StatusInterceptor, TokenInterceptor
from atlaspatch.api.hosting.metrics import ServiceMetrics
from atlaspatch.api.hosting.penalties import RefusalPenalties

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    metrics_port: int | None = None  # None: no /metrics endpoint
    token: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Mutual TLS: only clients presenting a certificate signed by this CA are served.
    tls_client_ca: Path | None = None
    grace_seconds: float = 10.0
    # A batch of 512 patches of 256 px is 100 MB; anything bigger is a client bug.
    max_message_bytes: int = 256 * 1024 * 1024
    # Calls in progress at once, all clients together; past it RESOURCE_EXHAUSTED (clients
    # retry). With the message limit it bounds what the server can be made to hold.
    max_concurrent_rpcs: int | None = 256
    # Longest wait before a call of a caller whose calls keep being refused is read
    # (penalties.py); 0: none (behind a proxy that pools callers into one connection).
    refusal_penalty_seconds: float = 2.0


class ModelServer:
    def __init__(
        self,
        settings: ServerSettings,
        service_name: str,
        add_servicer: Callable[[grpc.aio.Server], None],
        metrics: ServiceMetrics,
        on_stop: Callable[[], Awaitable[None]] | None = None,
    ):
        self.settings = settings
        self._on_stop = on_stop
        self.service_name = service_name
        self.metrics = metrics
        self._add_servicer = add_servicer
        self._server: grpc.aio.Server | None = None
        self._health = health.aio.HealthServicer()
        self.port = 0
        self.metrics_port: int | None = None

    async def start(self) -> int:
        keep_freed_buffers()  # requests are fresh buffers of megabytes
        penalties = None
        if self.settings.refusal_penalty_seconds > 0:
            penalties = RefusalPenalties(self.settings.refusal_penalty_seconds)
        interceptors: list[grpc.aio.ServerInterceptor] = [
            StatusInterceptor(self.metrics, penalties)
        ]
        if self.settings.token:
            interceptors.insert(0, TokenInterceptor(self.settings.token, penalties))
        size = self.settings.max_message_bytes
        server = grpc.aio.server(
            interceptors=interceptors,
            maximum_concurrent_rpcs=self.settings.max_concurrent_rpcs,
            options=[
                ("grpc.max_receive_message_length", size),
                ("grpc.max_send_message_length", size),
                ("grpc.so_reuseport", 0),
            ],
        )
        self._add_servicer(server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            (self.service_name, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
        address = f"{self.settings.host}:{self.settings.port}"
        if self.settings.tls_cert and self.settings.tls_key:
            client_ca = self.settings.tls_client_ca
            credentials = grpc.ssl_server_credentials(
                [(self.settings.tls_key.read_bytes(), self.settings.tls_cert.read_bytes())],
                root_certificates=client_ca.read_bytes() if client_ca else None,
                require_client_auth=client_ca is not None,
            )
            self.port = server.add_secure_port(address, credentials)
        else:
            self.port = server.add_insecure_port(address)
        await server.start()
        self._server = server
        if self.settings.metrics_port is not None:
            self.metrics_port = self.metrics.serve_http(
                self.settings.host, self.settings.metrics_port
            )
        await self.set_serving(True)
        log.info("%s listening on %s:%d", self.service_name, self.settings.host, self.port)
        return self.port

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", self.service_name):
            await self._health.set(name, status)

    async def stop(self) -> None:
        """Refuse new work in health checks, let running calls finish, then close."""
        if self._server is None:
            return
        await self.set_serving(False)
        await self._server.stop(self.settings.grace_seconds)
        self._server = None
        if self._on_stop is not None:
            await self._on_stop()

    async def serve_until_signalled(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        await stopping.wait()
        log.info(
            "%s: stopping, draining for up to %.0fs", self.service_name, self.settings.grace_seconds
        )
        await self.stop()
