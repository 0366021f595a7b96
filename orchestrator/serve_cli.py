"""`atlaspatch serve segmenter|encoder`: the long-running model services.

Every option can also be set as an ATLASPATCH_* environment variable (Helm values become
environment variables), e.g. ATLASPATCH_PORT, ATLASPATCH_MAX_BATCH_SIZE.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import click

from orchestrator.devices import resolve_device
from orchestrator.encoders_setup import build_registry, default_precision
from orchestrator.options import compose, sam2_checkpoint_option, split_names
from orchestrator.serving.server import ModelServer, ServerSettings
from segmenter_service.backend import TISSUE_MODELS


def _env(name: str) -> str:
    return f"ATLASPATCH_{name}"


server_options = compose(
    click.option(
        "--host",
        default="127.0.0.1",
        show_default=True,
        envvar=_env("HOST"),
        show_envvar=True,
        help="Address to bind; 0.0.0.0 inside a container.",
    ),
    click.option(
        "--port",
        type=int,
        default=50051,
        show_default=True,
        envvar=_env("PORT"),
        show_envvar=True,
        help="gRPC port (0: any free port).",
    ),
    click.option(
        "--metrics-port",
        type=int,
        default=None,
        envvar=_env("METRICS_PORT"),
        show_envvar=True,
        help="Serve Prometheus /metrics on this port.",
    ),
    click.option(
        "--device",
        default="cuda",
        show_default=True,
        envvar=_env("DEVICE"),
        show_envvar=True,
        help="cuda, cuda:N or cpu (cuda falls back to cpu if absent).",
    ),
    click.option(
        "--token",
        default=None,
        envvar=_env("TOKEN"),
        show_envvar=True,
        help="Require this bearer token on every call but health checks.",
    ),
    click.option(
        "--tls-cert",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        envvar=_env("TLS_CERT"),
        show_envvar=True,
        help="Serve TLS with this certificate...",
    ),
    click.option(
        "--tls-key",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        envvar=_env("TLS_KEY"),
        show_envvar=True,
        help="...and this private key.",
    ),
    click.option(
        "--grace-seconds",
        type=float,
        default=20.0,
        show_default=True,
        envvar=_env("GRACE_SECONDS"),
        show_envvar=True,
        help="On SIGTERM: report NOT_SERVING, then let running calls finish this long.",
    ),
    click.option("--verbose", "-v", is_flag=True, help="Debug logging."),
)


backend_options = compose(
    click.option(
        "--backend",
        type=click.Choice(["local", "triton"]),
        default="local",
        show_default=True,
        envvar=_env("BACKEND"),
        show_envvar=True,
        help="local: run the model in this service. triton: forward every request to a "
        "Triton server holding the model (see `atlaspatch export-triton`).",
    ),
    click.option(
        "--triton-url",
        default=None,
        envvar=_env("TRITON_URL"),
        show_envvar=True,
        help="Triton's gRPC endpoint, HOST:PORT (with --backend triton).",
    ),
)


@click.group()
def serve() -> None:
    """Run a model service that many `atlaspatch` clients share over gRPC."""


@serve.command("encoder")
@server_options
@click.option(
    "--encoders",
    default="",
    envvar=_env("ENCODERS"),
    show_envvar=True,
    help="Encoders to load at start (comma or space separated); others load on first use.",
)
@click.option(
    "--precision",
    type=click.Choice(["float32", "float16", "bfloat16"]),
    default=None,
    envvar=_env("PRECISION"),
    show_envvar=True,
    help="Default precision.  [default: float16 on CUDA, float32 on the CPU]",
)
@click.option(
    "--max-batch-size",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    envvar=_env("MAX_BATCH_SIZE"),
    show_envvar=True,
    help="Most patches merged into one forward pass.",
)
@click.option(
    "--max-queue-delay-ms",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    envvar=_env("MAX_QUEUE_DELAY_MS"),
    show_envvar=True,
    help="Longest a request waits for others to batch with.",
)
@click.option(
    "--max-queue",
    type=click.IntRange(min=1),
    default=4096,
    show_default=True,
    envvar=_env("MAX_QUEUE"),
    show_envvar=True,
    help="Patches waiting before new requests get RESOURCE_EXHAUSTED.",
)
@backend_options
@click.option(
    "--weights-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=_env("WEIGHTS_DIR"),
    show_envvar=True,
    help="Local encoder weights.",
)
@click.option(
    "--feature-plugin",
    "feature_plugins",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Plugin files with more encoders (the operator's choice, never a client's).",
)
def serve_encoder(**options: Any) -> None:
    """Serve patch encoders with cross-client dynamic batching.

    With --backend triton the encoders run in Triton: each model is checked against the
    encoder it names at start (tensors, dimension), the --max-batch-size and queue settings
    are Triton's own (its config.pbtxt), and --precision defaults to the model's.
    """
    from orchestrator.serving.services import encoder_server

    _logging(options["verbose"])
    settings = _settings(options)
    triton_url = _triton_url(options)
    triton = triton_url is not None
    device = "cpu" if triton else resolve_device(options["device"])
    precision = options["precision"] or ("" if triton else default_precision(device))
    registry = build_registry(options["feature_plugins"], device, precision or "float32", 4)
    source = _triton_source(triton_url, registry) if triton_url else registry
    try:
        server, _ = encoder_server(
            settings,
            source,
            split_names(options["encoders"]),
            device,
            precision,
            options["weights_dir"],
            options["max_batch_size"],
            options["max_queue_delay_ms"],
            options["max_queue"],
        )
    except _refusals(triton) as exc:  # a missing or refused model: say which, no traceback
        raise click.ClickException(str(exc)) from exc
    _run(server)


def _refusals(triton: bool) -> tuple[type[Exception], ...]:
    if not triton:
        return ()
    from encoder_service.handler import NotReady
    from encoder_service.registry import UnknownEncoder
    from encoder_service.triton_forward import TritonModelMismatch

    return (TritonModelMismatch, UnknownEncoder, NotReady, ValueError)


def _triton_source(url: str, registry: Any) -> Any:
    from encoder_service.triton_forward import TritonEncoders

    return TritonEncoders(url, registry)


def _triton_url(options: dict[str, Any]) -> str | None:
    """Triton's endpoint with --backend triton, else None."""
    if options["backend"] != "triton":
        return None
    if not options["triton_url"]:
        raise click.UsageError("--backend triton needs --triton-url HOST:PORT")
    return options["triton_url"]


@serve.command("segmenter")
@server_options
@click.option(
    "--tissue-model",
    type=click.Choice(TISSUE_MODELS),
    default="sam2",
    show_default=True,
    envvar=_env("TISSUE_MODEL"),
    show_envvar=True,
    help="The model this service hosts.",
)
@sam2_checkpoint_option
@backend_options
def serve_segmenter(**options: Any) -> None:
    """Serve tissue segmentation of thumbnails.

    With --backend triton the model runs in Triton (exported with `atlaspatch export-triton
    --segmenter sam2`) and is checked at start.
    """
    from orchestrator.serving.services import segmenter_server
    from segmenter_service.checkpoint import CheckpointNotFound
    from segmenter_service.sam2_backend import CheckpointFormatError
    from segmenter_service.triton_forward import TritonSegmenterError

    _logging(options["verbose"])
    triton_url = _triton_url(options)
    if triton_url and options["tissue_model"] != "sam2":
        raise click.UsageError("only sam2 runs in Triton; otsu needs no accelerator")
    try:
        server = segmenter_server(
            _settings(options),
            options["tissue_model"],
            resolve_device(options["device"]),
            options["sam2_checkpoint"],
            triton_url,
        )
    except (CheckpointNotFound, CheckpointFormatError, TritonSegmenterError) as exc:
        raise click.ClickException(str(exc)) from exc
    _run(server)


def _settings(options: dict[str, Any]) -> ServerSettings:
    if bool(options["tls_cert"]) != bool(options["tls_key"]):
        raise click.ClickException("TLS needs both --tls-cert and --tls-key")
    return ServerSettings(
        host=options["host"],
        port=options["port"],
        metrics_port=options["metrics_port"],
        token=options["token"],
        tls_cert=options["tls_cert"],
        tls_key=options["tls_key"],
        grace_seconds=options["grace_seconds"],
    )


def _run(server: ModelServer) -> None:
    async def main() -> None:
        port = await server.start()
        metrics = f", metrics on :{server.metrics_port}/metrics" if server.metrics_port else ""
        click.echo(
            f"{server.service_name} serving on {server.settings.host}:{port}{metrics}", err=True
        )
        await server.serve_until_signalled()

    asyncio.run(main())


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@serve.command("health")
@click.argument("url", default="127.0.0.1:50051", envvar=_env("HEALTH_URL"))
@click.option(
    "--tls-ca",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar=_env("TLS_CA"),
    show_envvar=True,
    help="CA certificate, for a grpcs:// URL with a private CA.",
)
@click.option("--timeout", type=float, default=3.0, show_default=True, help="Seconds to wait.")
def serve_health(url: str, tls_ca: Path | None, timeout: float) -> None:
    """Exit 0 when the service at URL (host:port, grpc://, grpcs://) reports SERVING, else 1.

    For container health checks and exec probes (Kubernetes' own gRPC probes cannot speak TLS).
    """
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from client.channel import Endpoint, open_channel

    channel = open_channel(Endpoint.parse(url, ca_cert=tls_ca))
    try:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=timeout
        )
    except grpc.RpcError as error:
        raise click.ClickException(f"{url}: {error.code().name}") from error  # type: ignore[attr-defined]
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        raise click.ClickException(f"{url}: {status}")
    click.echo(f"{url}: {status}")
