"""The options every `atlaspatch serve` service shares: where it listens, who may call it,
what it may be made to hold, and which backend runs its model."""

from __future__ import annotations

import click

from atlaspatch.orchestrator.cli.options import (
    DEVICE,
    FILE,
    TOKEN,
    VERBOSE,
    Number,
    compose,
    option,
)

server_options = compose(
    option(
        "--host",
        default="127.0.0.1",
        show_default=True,
        help="Address to bind; 0.0.0.0 inside a container.",
    ),
    option(
        "--port",
        type=int,
        help="gRPC port (0: any free port)  [default: 50051 for the encoder, 50052 for the "
        "segmenter, so that both run on one host as they are]",
    ),
    option(
        "--metrics-port", type=int, default=None, help="Serve Prometheus /metrics on this port."
    ),
    DEVICE,
    TOKEN,
    option("--tls-cert", type=FILE, help="Serve TLS with this certificate..."),
    option("--tls-key", type=FILE, help="...and this private key."),
    option(
        "--tls-client-ca",
        type=FILE,
        help="Mutual TLS: serve only clients whose certificate this CA signed (clients pass "
        "--tls-client-cert/--tls-client-key).",
    ),
    option(
        "--max-concurrent-rpcs",
        type=click.IntRange(min=1),
        default=256,
        show_default=True,
        help="Calls in progress at once, all clients together; past it RESOURCE_EXHAUSTED "
        "(clients retry).",
    ),
    option(
        "--refusal-penalty-seconds",
        type=Number(min=0),
        default=2.0,
        show_default=True,
        help="A connection whose calls keep being refused (malformed, no token, not served) "
        "waits before its next call is read, doubling up to this; 0: never (behind a proxy "
        "that pools clients into one connection).",
    ),
    option(
        "--grace-seconds",
        type=Number(min=0),
        default=20.0,
        show_default=True,
        help="On SIGTERM: report NOT_SERVING, then let running calls finish this long.",
    ),
    VERBOSE,
)

backend_options = compose(
    option(
        "--backend",
        type=click.Choice(["local", "triton"]),
        default="local",
        show_default=True,
        help="local: run the model in this service. triton: forward every request to a "
        "Triton server holding the model (see `atlaspatch export-triton`).",
    ),
    option(
        "--triton-url",
        default=None,
        help="Triton's gRPC endpoint, HOST:PORT (with --backend triton).",
    ),
)
