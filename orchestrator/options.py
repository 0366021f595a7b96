"""Command-line options shared by several commands, declared once."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from segmenter_service.backend import TISSUE_MODELS

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def compose(*decorators: Decorator) -> Decorator:
    def apply(function: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


# For commands that load the checkpoint themselves (the service, the Triton export).
sam2_checkpoint_option = click.option(
    "--sam2-checkpoint",
    type=click.Path(path_type=Path),
    envvar="ATLASPATCH_SAM2_CHECKPOINT",
    show_envvar=True,
    help="AtlasPatch SAM2 checkpoint (else the Hugging Face cache or hub).",
)

slide_input = compose(
    click.argument("wsi_path", type=click.Path(path_type=Path)),
    click.option(
        "--output",
        "-o",
        required=True,
        type=click.Path(path_type=Path, file_okay=False),
        help="Root folder for results: patches/<stem>.h5, visualization/, images/.",
    ),
    click.option("--recursive", is_flag=True, help="Walk subfolders when WSI_PATH is a folder."),
    click.option(
        "--shard",
        default=None,
        metavar="I/N",
        help="Process only shard I (from 0) of N of the sorted slide list. Default: from "
        "JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID, with "
        "ATLASPATCH_SHARDS shards; else every slide.",
    ),
    click.option(
        "--mpp-csv",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="CSV with columns wsi,mpp; overrides the slides' microns per pixel (and so "
        "their magnification, 10/mpp).",
    ),
    click.option("--verbose", "-v", is_flag=True, help="Debug logging; no progress bar."),
)

segmentation = compose(
    click.option(
        "--tissue-model",
        type=click.Choice(TISSUE_MODELS),
        default="sam2",
        show_default=True,
        help="sam2: AtlasPatch's fine-tuned SAM2.1 Hiera-tiny (needs its checkpoint). "
        "otsu: classical saturation thresholding, needs no weights.",
    ),
    click.option(
        "--sam2-checkpoint",
        type=click.Path(path_type=Path),
        help="AtlasPatch SAM2 checkpoint (model.pth). Else $ATLASPATCH_SAM2_CHECKPOINT, "
        "else the Hugging Face cache or hub (AtlasAnalyticsLab/AtlasPatch).",
    ),
    click.option(
        "--device",
        default="cuda",
        show_default=True,
        help="Device for segmentation: cuda, cuda:N or cpu (cuda falls back to cpu if absent).",
    ),
    click.option(
        "--seg-batch-size",
        type=click.IntRange(min=1),
        default=1,
        show_default=True,
        help="Thumbnails segmented together in one forward pass.",
    ),
    click.option(
        "--patch-workers",
        type=click.IntRange(min=1),
        default=None,
        help="Threads reading slides (thumbnails, patches).  [default: CPU count]",
    ),
    click.option(
        "--max-open-slides",
        type=click.IntRange(min=1),
        default=200,
        show_default=True,
        help="Most slides open at once; lower it if you hit file-descriptor limits.",
    ),
    click.option(
        "--tissue-thresh",
        type=click.FloatRange(0.0, 1.0),
        default=0.0,
        show_default=True,
        help="Drop tissue regions smaller than this fraction of the thumbnail area.",
    ),
)

coordinates = compose(
    click.option(
        "--patch-size",
        type=click.IntRange(min=1),
        required=True,
        help="Patch side in pixels at the target magnification.",
    ),
    click.option(
        "--target-mag",
        type=click.FloatRange(min=0, min_open=True),
        required=True,
        help="Magnification of the patches (e.g. 5, 10, 20, 40); read from the closest "
        "level at or finer than it, resized when not exact.",
    ),
    click.option(
        "--step-size",
        type=click.IntRange(min=1),
        default=None,
        help="Stride between patches at the target magnification.  [default: patch size]",
    ),
    click.option(
        "--min-tissue-fraction",
        type=click.FloatRange(0.0, 1.0),
        default=0.5,
        show_default=True,
        help="Keep a grid patch when at least this share of its area is tissue in the mask.",
    ),
    click.option(
        "--fast-mode/--no-fast-mode",
        default=True,
        show_default=True,
        help="Fast mode keeps patches by the mask alone; --no-fast-mode also reads each "
        "patch and drops white and black ones.",
    ),
    click.option(
        "--white-thresh",
        type=click.IntRange(min=1, max=255),
        default=15,
        show_default=True,
        help="With --no-fast-mode: a patch is white when 70% of it has saturation below "
        "this and brightness >= 200 (glass); lower drops fewer patches.",
    ),
    click.option(
        "--black-thresh",
        type=click.IntRange(min=1, max=255),
        default=50,
        show_default=True,
        help="With --no-fast-mode: a patch is black when 70% of it is darker than this; "
        "higher drops more patches.",
    ),
    click.option(
        "--write-batch",
        type=click.IntRange(min=1),
        default=8192,
        show_default=True,
        help="Coordinate rows buffered before each HDF5 write.",
    ),
    click.option("--save-images", is_flag=True, help="Also write patch PNGs to images/<stem>/."),
    click.option("--visualize-grids", is_flag=True, help="Draw the kept patches on the thumbnail."),
    click.option("--visualize-mask", is_flag=True, help="Draw the tissue mask on the thumbnail."),
    click.option(
        "--visualize-contours", is_flag=True, help="Draw tissue (red) and hole (blue) outlines."
    ),
    click.option(
        "--skip-existing",
        is_flag=True,
        help="Skip slides whose HDF5 exists (also the behaviour without --force).",
    ),
    click.option("--force", is_flag=True, help="Overwrite existing outputs."),
)


def default_workers(requested: int | None) -> int:
    return requested or os.cpu_count() or 1


features = compose(
    click.option(
        "--feature-extractors",
        required=True,
        help="Encoders, comma or space separated (e.g. 'resnet50,uni_v2'); see "
        "`atlaspatch encoders`. Each patch is read once and fed to all of them.",
    ),
    click.option(
        "--feature-device",
        default=None,
        help="Device for the encoders.  [default: same as --device]",
    ),
    click.option(
        "--feature-batch-size",
        type=click.IntRange(min=1),
        default=32,
        show_default=True,
        help="Patches per encoder forward pass.",
    ),
    click.option(
        "--feature-num-workers",
        type=click.IntRange(min=1),
        default=4,
        show_default=True,
        help="Threads running plugin encoders' per-patch preprocess.",
    ),
    click.option(
        "--feature-precision",
        type=click.Choice(["float32", "float16", "bfloat16"]),
        default=None,
        help="Encoder precision.  [default: float16 on CUDA, float32 on the CPU]",
    ),
    click.option(
        "--feature-plugin",
        "feature_plugins",
        multiple=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Python file defining register_feature_extractors(registry, device, dtype, "
        "num_workers); repeatable.",
    ),
    click.option(
        "--weights-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="ATLASPATCH_WEIGHTS_DIR",
        show_envvar=True,
        help="Folder of encoder weights: <name>.safetensors|.pth|.bin or <name>/. Looked at "
        "before the Hugging Face cache and hub.",
    ),
)


def split_names(text: str) -> list[str]:
    names = [name for name in text.replace(",", " ").split() if name]
    return list(dict.fromkeys(names))  # keep order, drop repeats


service_access = compose(
    click.option(
        "--token",
        envvar="ATLASPATCH_TOKEN",
        show_envvar=True,
        default=None,
        help="Bearer token for the services, when they require one.",
    ),
    click.option(
        "--tls-ca",
        envvar="ATLASPATCH_TLS_CA",
        show_envvar=True,
        default=None,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="CA certificate (or the server's self-signed one) for grpcs:// endpoints.",
    ),
)

segmenter_endpoint = compose(
    click.option(
        "--segmenter-url",
        envvar="ATLASPATCH_SEGMENTER_URL",
        show_envvar=True,
        default=None,
        help="Segmenter service (host:port, grpc://host:port, grpcs://host:port); the model "
        "asked for is --tissue-model. Without it segmentation runs in this process.",
    ),
    service_access,
)

encoder_endpoint = click.option(
    "--encoder-url",
    envvar="ATLASPATCH_ENCODER_URL",
    show_envvar=True,
    default=None,
    help="Encoder service (host:port, grpc://, grpcs://). Without it the encoders run in "
    "this process.",
)
