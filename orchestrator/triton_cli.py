"""`atlaspatch export-triton`: write a Triton model repository for our encoders (and SAM2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from orchestrator.options import sam2_checkpoint_option, split_names


@click.command("export-triton")
@click.option(
    "--encoders",
    default="",
    help="Encoders to export (comma or space separated), e.g. efficientnet_lite0,uni_v1.",
)
@click.option(
    "--segmenter",
    type=click.Choice(["sam2"]),
    default=None,
    help="Also export the SAM2 tissue segmenter (its checkpoint is copied in).",
)
@sam2_checkpoint_option
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The model repository to write (Triton's --model-repository).",
)
@click.option(
    "--variant",
    type=click.Choice(["python", "torchscript"]),
    default="python",
    show_default=True,
    help="python: Triton's Python backend running our encoder code (CPU or GPU, every "
    "Triton). torchscript: a traced model for Triton's PyTorch backend (GPU servers).",
)
@click.option(
    "--max-batch-size",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Most patches Triton's dynamic batcher merges into one execution.",
)
@click.option(
    "--max-queue-delay-ms",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="Longest a request waits for others to batch with.",
)
@click.option(
    "--instances",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Model instances (instance_group count) per device.",
)
@click.option(
    "--kind",
    type=click.Choice(["cpu", "gpu"]),
    default="gpu",
    show_default=True,
    help="Where Triton runs the instances (KIND_CPU or KIND_GPU).",
)
@click.option(
    "--precision",
    type=click.Choice(["float32", "float16", "bfloat16"]),
    default=None,
    help="Encoder precision.  [default: float16 for gpu, float32 for cpu]",
)
@click.option(
    "--weights-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="ATLASPATCH_WEIGHTS_DIR",
    show_envvar=True,
    help="Local encoder weights (recorded in the models; the Triton host must see them).",
)
@click.option(
    "--model-version",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="The version folder to write.",
)
def export_triton(**options: Any) -> None:
    """Write a Triton model repository: one model per encoder taking uint8 NHWC patches
    (preprocessing inside), with dynamic batching; optionally the SAM2 segmenter.

    \b
    Serve it:   deploy/triton/run-local.sh OUT 8001      (CPU, from the nvidia-pytriton wheel)
    Use it:     atlaspatch serve encoder --backend triton --triton-url 127.0.0.1:8001
    """
    from encoder_service.registry import EncoderRegistry, UnknownEncoder
    from encoder_service.triton_export import TritonExport, export_encoders
    from encoder_service.weights import WeightsNotFound

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
        precision=options["precision"] or ("float16" if gpu else "float32"),
        weights_dir=options["weights_dir"],
        version=options["model_version"],
    )
    out: Path = options["out"]
    try:
        folders = export_encoders(EncoderRegistry(), names, out, settings) if names else []
        if options["segmenter"]:
            folders.append(_export_segmenter(options, out, gpu))
    except (UnknownEncoder, WeightsNotFound, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    for folder in folders:
        click.echo(f"wrote {folder}")


def _export_segmenter(options: dict[str, Any], out: Path, gpu: bool) -> Path:
    from segmenter_service.checkpoint import CheckpointNotFound, resolve_sam2_checkpoint
    from segmenter_service.triton_export import export_sam2

    try:
        checkpoint = resolve_sam2_checkpoint(options["sam2_checkpoint"])
    except CheckpointNotFound as exc:
        raise click.ClickException(str(exc)) from exc
    return export_sam2(checkpoint, out, options["instances"], gpu, options["model_version"])
