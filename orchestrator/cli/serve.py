"""`atlaspatch serve segmenter|encoder|health`: start the long-running model services (they
are assembled and hosted by the services' own packages) and check them."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from atlaspatch.orchestrator.cli.boundary import configure_logging
from atlaspatch.orchestrator.cli.options import (
    ENCODERS,
    FEATURE_PLUGINS,
    GRANDQC_CHECKPOINT,
    MAX_BATCH_SIZE,
    MAX_QUEUE_DELAY_MS,
    PRECISION,
    SAM2_CHECKPOINT,
    TISSUE_MODEL,
    TLS_CA,
    TLS_CLIENT,
    WEIGHTS_DIR,
    Number,
    option,
    split_names,
    tissue_checkpoint,
)
from atlaspatch.orchestrator.cli.serve_options import backend_options, server_options
from atlaspatch.orchestrator.settings import settings_from

# Each service's own port by default, as compose, the chart and the SLURM script use them.
ENCODER_PORT = 50051
SEGMENTER_PORT = 50052

if TYPE_CHECKING:
    from atlaspatch.api.hosting.server import ModelServer, ServerSettings


@click.group()
def serve() -> None:
    """Run a model service that many `atlaspatch` clients share over gRPC."""


@serve.command("encoder")
@server_options
@ENCODERS
@PRECISION
@MAX_BATCH_SIZE
@MAX_QUEUE_DELAY_MS
@option(
    "--max-queue",
    type=click.IntRange(min=1),
    default=4096,
    show_default=True,
    help="Patches waiting (one request's included) before new requests get RESOURCE_EXHAUSTED.",
)
@option(
    "--max-pass-megapixels",
    type=Number(min=0.01),
    default=16.8,
    show_default=True,
    help="Pixels in one forward pass, each patch counted at its size or the model's input, "
    "whichever is larger: bounds what one request can cost. Larger requests run as several "
    "passes; a single patch over it is refused.",
)
@option(
    "--max-loaded-gib",
    type=Number(min=0),
    default=8.0,
    show_default=True,
    help="Weights held at once, all encoders and precisions together; past it the least "
    "recently used encoder is released (loaded again when next asked for).",
)
@option(
    "--loadable",
    default="",
    help="Encoders clients may have loaded besides --encoders: names or shell patterns, "
    "comma separated ('*': the whole catalogue).  [default: only --encoders]",
)
@option(
    "--slide-encoders",
    default="",
    help="Slide and patient encoders to load at start (moozy, titan, prism; `mean` needs no "
    "loading and is always served): clients' encode-slide and encode-patient with "
    "--encoder-url run them here. Clients may have others loaded that --loadable allows.",
)
@option(
    "--allow-downloads",
    is_flag=True,
    help="Fetch the weights of a --loadable encoder from the Hugging Face hub when a client "
    "asks for it and they are not here (--encoders are always fetched at start).",
)
@option(
    "--max-concurrent-loads",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Encoders loading at once; requests for loaded encoders never wait for them.",
)
@option(
    "--max-message-mib",
    type=Number(min=1),
    default=64.0,
    show_default=True,
    help="Largest request; clients split larger batches of pixels (tiles are far smaller).",
)
@option(
    "--max-decoded-mib",
    type=Number(min=1),
    default=1024.0,
    show_default=True,
    help="Pixels decoded from tiles and not yet embedded, and slides' patch features sent to "
    "slide encoders, all requests together: a request waits for room, and one over it alone "
    "is refused.",
)
@backend_options
@WEIGHTS_DIR
@FEATURE_PLUGINS
def serve_encoder(**options: Any) -> None:
    """Serve patch encoders with cross-client dynamic batching.

    With --backend triton the encoders run in Triton: each model is checked against the
    encoder it names at start (tensors, dimension), the --max-batch-size and queue settings
    are Triton's own (its config.pbtxt), and --precision defaults to the model's.
    """
    from atlaspatch.encoder_service.serving.handler import Batching
    from atlaspatch.encoder_service.serving.load_policy import LoadPolicy
    from atlaspatch.encoder_service.serving.server import encoder_server
    from atlaspatch.encoder_service.serving.sources import encoder_source

    configure_logging(options["verbose"], quiet=logging.INFO)
    precision = options["precision"] or ""
    source, device = encoder_source(
        options["feature_plugins"], options["device"], precision, 4, _triton_url(options)
    )
    batching = Batching(
        options["max_batch_size"],
        options["max_queue_delay_ms"] / 1000,
        options["max_queue"],
        round(options["max_pass_megapixels"] * 1e6),
    )
    encoders = split_names(options["encoders"])
    policy = LoadPolicy.serving(
        encoders,
        split_names(options["loadable"]),
        options["allow_downloads"],
        options["max_concurrent_loads"],
    )
    if not policy.loadable:
        raise click.UsageError("name what it serves: --encoders NAMES and/or --loadable NAMES")
    server, _ = encoder_server(
        _settings(
            options, ENCODER_PORT, max_message_bytes=round(options["max_message_mib"] * 2**20)
        ),
        source,
        encoders,
        device,
        precision,
        options["weights_dir"],
        batching,
        round(options["max_loaded_gib"] * 2**30),
        policy,
        round(options["max_decoded_mib"] * 2**20),
        tuple(split_names(options["slide_encoders"])),
    )
    _serve(server)


@serve.command("segmenter")
@server_options
@TISSUE_MODEL
@SAM2_CHECKPOINT
@GRANDQC_CHECKPOINT
@option(
    "--artifact-model",
    type=click.Choice(["grandqc"]),
    help="Also score patches with this artifact model (ScorePatches): grandqc.",
)
@option(
    "--artifact-checkpoint",
    type=click.Path(path_type=Path),
    help="GrandQC's artifact weights (GrandQC_MPP1_state_dict.pth); else "
    "$ATLASPATCH_GRANDQC_ARTIFACT_CHECKPOINT, the Hugging Face cache or hub.",
)
@backend_options
def serve_segmenter(**options: Any) -> None:
    """Serve tissue segmentation of thumbnails.

    With --backend triton the model runs in Triton (exported with `atlaspatch export-triton
    --segmenter sam2`) and is checked at start.
    """
    from atlaspatch.segmenter_service.server import segmenter_server

    configure_logging(options["verbose"], quiet=logging.INFO)
    triton_url = _triton_url(options)
    if triton_url and options["tissue_model"] != "sam2":
        raise click.UsageError(
            "only sam2 runs in Triton; otsu needs no accelerator, grandqc runs in the service"
        )
    server = segmenter_server(
        _settings(options, SEGMENTER_PORT),
        options["tissue_model"],
        options["device"],
        tissue_checkpoint(options["tissue_model"], options),
        triton_url,
        options["artifact_model"],
        options["artifact_checkpoint"],
    )
    _serve(server)


@serve.command("health")
@click.argument("url", required=False, envvar="ATLASPATCH_HEALTH_URL")
@TLS_CA
@TLS_CLIENT
@option("--timeout", type=Number(), default=3.0, show_default=True, help="Seconds to wait.")
def serve_health(
    url: str | None,
    tls_ca: Path | None,
    tls_client_cert: Path | None,
    tls_client_key: Path | None,
    timeout: float,
) -> None:
    """Exit 0 when the service at URL (host:port, grpc://, grpcs://) reports SERVING, else 1.

    For container health checks and exec probes (Kubernetes' own gRPC probes cannot speak TLS).
    Without URL: the service of this container, 127.0.0.1 on $ATLASPATCH_PORT (else 50051).
    """
    from atlaspatch.client.health import serving_status

    # A container's service listens where its ATLASPATCH_PORT says: one image, any port.
    url = url or f"127.0.0.1:{os.environ.get('ATLASPATCH_PORT') or ENCODER_PORT}"
    status = serving_status(url, tls_ca, timeout, tls_client_cert, tls_client_key)
    if status != "SERVING":
        raise click.ClickException(f"{url}: {status}")
    click.echo(f"{url}: {status}")


def _triton_url(options: dict[str, Any]) -> str | None:
    """Triton's endpoint with --backend triton, else None."""
    if options["backend"] != "triton":
        return None
    if not options["triton_url"]:
        raise click.UsageError("--backend triton needs --triton-url HOST:PORT")
    return options["triton_url"]


def _settings(options: dict[str, Any], default_port: int, **more: Any) -> ServerSettings:
    from atlaspatch.api.hosting.server import ServerSettings

    if options["port"] is None:
        options = {**options, "port": default_port}
    if bool(options["tls_cert"]) != bool(options["tls_key"]):
        raise click.ClickException("TLS needs both --tls-cert and --tls-key")
    if options["tls_client_ca"] and not options["tls_cert"]:
        raise click.ClickException("--tls-client-ca needs --tls-cert and --tls-key")
    return settings_from(ServerSettings, options, **more)


def _serve(server: ModelServer) -> None:
    import asyncio

    async def main() -> None:
        port = await server.start()
        metrics = f", metrics on :{server.metrics_port}/metrics" if server.metrics_port else ""
        click.echo(
            f"{server.service_name} serving on {server.settings.host}:{port}{metrics}", err=True
        )
        await server.serve_until_signalled()

    asyncio.run(main())
