"""`atlaspatch export-triton`: write a Triton model repository for our encoders (and SAM2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from atlaspatch.orchestrator.cli.options import (
    ENCODERS,
    FOLDER,
    MAX_BATCH_SIZE,
    MAX_QUEUE_DELAY_MS,
    PRECISION,
    SAM2_CHECKPOINT,
    WEIGHTS_DIR,
    option,
    split_names,
)


@click.command("export-triton")
@ENCODERS
@option(
    "--segmenter",
    type=click.Choice(["sam2"]),
    default=None,
    help="Also export the SAM2 tissue segmenter (its checkpoint is copied in).",
)
@SAM2_CHECKPOINT
@option(
    "--out",
    "-o",
    required=True,
    type=FOLDER,
    help="The model repository to write (Triton's --model-repository).",
)
@option(
    "--variant",
    type=click.Choice(["python", "torchscript"]),
    default="python",
    show_default=True,
    help="python: Triton's Python backend running our encoder code (CPU or GPU, every "
    "Triton). torchscript: a traced model for Triton's PyTorch backend (GPU servers).",
)
@MAX_BATCH_SIZE
@MAX_QUEUE_DELAY_MS
@option(
    "--instances",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Model instances (instance_group count) per device.",
)
@option(
    "--kind",
    type=click.Choice(["cpu", "gpu"]),
    default="gpu",
    show_default=True,
    help="Where Triton runs the instances (KIND_CPU or KIND_GPU).",
)
@PRECISION
@WEIGHTS_DIR
@option(
    "--model-version",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="The version folder to write.",
)
def export_triton(**options: Any) -> None:
    """Write a Triton model repository: one model per encoder taking uint8 NHWC patches
    (preprocessing inside), with dynamic batching; optionally the SAM2 segmenter.

    The weights directory is recorded in the models: the Triton host must see it.

    \b
    Serve it:   deploy/triton/run-local.sh OUT 8001      (CPU, from the nvidia-pytriton wheel)
    Use it:     atlaspatch serve encoder --encoders NAMES --backend triton
                    --triton-url 127.0.0.1:8001
    """
    from atlaspatch.encoder_service.networks.precision import default_precision
    from atlaspatch.encoder_service.registry import EncoderRegistry
    from atlaspatch.encoder_service.triton.export import TritonExport, export_encoders

    names = split_names(options["encoders"])
    if not names and not options["segmenter"]:
        raise click.UsageError("name --encoders and/or --segmenter")
    gpu = options["kind"] == "gpu"
    settings = TritonExport(
        variant=options["variant"],
        max_batch_size=options["max_batch_size"],
        max_queue_delay_us=round(options["max_queue_delay_ms"] * 1000),
        instances=options["instances"],
        gpu=gpu,
        precision=options["precision"] or default_precision("cuda" if gpu else "cpu"),
        weights_dir=options["weights_dir"],
        version=options["model_version"],
    )
    out: Path = options["out"]
    folders = export_encoders(EncoderRegistry(), names, out, settings) if names else []
    if options["segmenter"]:
        folders.append(_export_segmenter(options, out, gpu))
    for folder in folders:
        click.echo(f"wrote {folder}")


def _export_segmenter(options: dict[str, Any], out: Path, gpu: bool) -> Path:
    from atlaspatch.segmenter_service.checkpoint import resolve_sam2_checkpoint
    from atlaspatch.segmenter_service.triton_export import export_sam2

    checkpoint = resolve_sam2_checkpoint(options["sam2_checkpoint"])
    return export_sam2(checkpoint, out, options["instances"], gpu, options["model_version"])
