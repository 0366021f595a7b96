"""Prometheus metrics of one service, in a registry of its own (several can share a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class ServiceMetrics:
    def __init__(self, service: str):
        self.registry = CollectorRegistry()
        self._service = service
        self._requests = Counter(
            "atlaspatch_requests",
            "RPCs handled",
            ["service", "method", "code"],
            registry=self.registry,
        )
        self._latency = self._histogram(
            "atlaspatch_request_seconds", "RPC wall time", ("service", "method")
        )
        self._batch = self._histogram(
            "atlaspatch_batch_patches", "patches per forward pass", buckets=BATCH_BUCKETS
        )
        self._merged = self._histogram(
            "atlaspatch_batch_requests",
            "requests merged into one forward pass",
            buckets=BATCH_BUCKETS,
        )
        self._queue_seconds = self._histogram(
            "atlaspatch_queue_seconds", "time the oldest request of a batch waited"
        )
        self._compute_seconds = self._histogram("atlaspatch_compute_seconds", "forward pass time")
        self._queue_length = Gauge(
            "atlaspatch_queue_patches",
            "patches waiting to be batched",
            ["service"],
            registry=self.registry,
        )

    def _histogram(
        self,
        name: str,
        documentation: str,
        labels: tuple[str, ...] = ("service",),
        buckets: tuple[float, ...] = Histogram.DEFAULT_BUCKETS,
    ) -> Histogram:
        return Histogram(name, documentation, list(labels), buckets=buckets, registry=self.registry)

    def request(self, method: str, code: str, seconds: float) -> None:
        self._requests.labels(self._service, method, code).inc()
        self._latency.labels(self._service, method).observe(seconds)

    def batch(self, patches: int, requests: int, queued: float, compute: float) -> None:
        """One forward pass of `patches` merged from `requests`, after `queued` seconds of
        waiting and `compute` seconds of work."""
        self._batch.labels(self._service).observe(patches)
        self._merged.labels(self._service).observe(requests)
        self._queue_seconds.labels(self._service).observe(queued)
        self._compute_seconds.labels(self._service).observe(compute)

    def queue_length(self, patches: int) -> None:
        self._queue_length.labels(self._service).set(patches)

    def serve_http(self, host: str, port: int) -> int:
        """Expose /metrics; returns the port (0 picks a free one)."""
        server, _ = start_http_server(port, addr=host, registry=self.registry)
        return int(server.server_port)

    def value(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, {"service": self._service, **labels}) or 0.0
