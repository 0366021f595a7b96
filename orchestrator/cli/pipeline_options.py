"""The options of the slide commands (detect-tissue, segment-and-get-coords, process), in the
groups those commands share."""

from __future__ import annotations

from pathlib import Path

import click

from atlaspatch.orchestrator.cli.options import (
    DEVICE,
    FEATURE_PLUGINS,
    FOLDER,
    GRANDQC_CHECKPOINT,
    MPP_CSV,
    PRECISION_CHOICE,
    PRECISION_HELP,
    SAM2_CHECKPOINT,
    SAVE_GEOJSON,
    TISSUE_MODEL,
    TLS_CA,
    TLS_CLIENT,
    TOKEN,
    VERBOSE,
    VISUALIZE_CONTOURS,
    WEIGHTS_DIR,
    Decorator,
    Number,
    compose,
    default_workers,
    option,
    split_names,
)
from atlaspatch.orchestrator.cli.quality_options import artifact_options

OUTPUT = option(
    "--output",
    "-o",
    required=True,
    type=FOLDER,
    help="Root folder for results: patches/<stem>.h5, visualization/, images/, reports/, "
    "and report.html (the QC page of the whole root).",
)

slide_input = compose(
    click.argument("wsi_path", type=click.Path(path_type=Path)),
    OUTPUT,
    option("--recursive", is_flag=True, help="Walk subfolders when WSI_PATH is a folder."),
    option(
        "--shard",
        default=None,
        metavar="I/N",
        help="Process only shard I (from 0) of N of the sorted slide list. Default: from "
        "JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID, with "
        "ATLASPATCH_SHARDS shards; else every slide.",
    ),
    MPP_CSV,
    VERBOSE,
)

segmentation = compose(
    TISSUE_MODEL,
    SAM2_CHECKPOINT,
    GRANDQC_CHECKPOINT,
    DEVICE,
    option(
        "--seg-batch-size",
        type=click.IntRange(min=1),
        default=1,
        show_default=True,
        help="Thumbnails segmented together in one forward pass.",
    ),
    option(
        "--patch-workers",
        type=click.IntRange(min=1),
        default=None,
        callback=default_workers,
        help="Threads reading slides (thumbnails, patches).  [default: the CPUs this process "
        "may use: its affinity, within a container's CPU quota]",
    ),
    option(
        "--wsi-path-root",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Store each slide's wsi_path relative to this folder (slides moved together "
        "stay found).  [default: absolute paths]",
    ),
    option(
        "--max-open-slides",
        type=click.IntRange(min=1),
        default=200,
        show_default=True,
        help="Most slides open at once; lower it if you hit file-descriptor limits.",
    ),
    option(
        "--tissue-thresh",
        type=Number(0.0, 1.0),
        default=0.0,
        show_default=True,
        help="Drop tissue regions smaller than this fraction of the thumbnail area.",
    ),
)


def _flag(name: str, help: str) -> Decorator:
    return option(name, is_flag=True, help=help)


PATCH_SIZE_HELP = "Patch side in pixels at the target magnification."
TARGET_MAG_HELP = (
    "Magnification of the patches (e.g. 5, 10, 20, 40); read from the closest level at or "
    "finer than it, resized when not exact."
)


def patch_size_option(required: bool = True, more_help: str = "") -> Decorator:
    return option(
        "--patch-size",
        type=click.IntRange(min=1),
        required=required,
        help=PATCH_SIZE_HELP + more_help,
    )


def target_mag_option(required: bool = True, more_help: str = "") -> Decorator:
    return option(
        "--target-mag",
        "target_magnification",
        type=Number(min=0, min_open=True),
        required=required,
        help=TARGET_MAG_HELP + more_help,
    )


# How patches are chosen and written, but their size and magnification.
patch_choices = compose(
    option(
        "--output-layout",
        type=click.Choice(["flat", "per-config"]),
        default="flat",
        show_default=True,
        help="per-config: write into a subfolder of the output named after the patch "
        "settings, as TRIDENT names its own (e.g. 20x_256px_0px_overlap/), so that several "
        "settings share one output root.",
    ),
    option(
        "--step-size",
        type=click.IntRange(min=1),
        default=None,
        help="Stride between patches at the target magnification.  [default: patch size]",
    ),
    option(
        "--min-tissue-fraction",
        type=Number(0.0, 1.0),
        default=0.5,
        show_default=True,
        help="Keep a grid patch when at least this share of its area is tissue in the mask.",
    ),
    option(
        "--edge-patches/--no-edge-patches",
        default=False,
        show_default=True,
        help="Also keep grid patches that cross the slide's right or bottom edge (as AtlasPatch "
        "does); what lies outside the slide reads as white and counts as no tissue.",
    ),
    option(
        "--fast-mode/--no-fast-mode",
        default=True,
        show_default=True,
        help="Fast mode keeps patches by the mask alone; --no-fast-mode also reads each "
        "patch and drops white and black ones.",
    ),
    option(
        "--white-thresh",
        type=click.IntRange(min=1, max=255),
        default=15,
        show_default=True,
        help="With --no-fast-mode: a patch is white when 70% of it has saturation below "
        "this and brightness >= 200 (glass); lower drops fewer patches.",
    ),
    option(
        "--black-thresh",
        type=click.IntRange(min=1, max=255),
        default=50,
        show_default=True,
        help="With --no-fast-mode: a patch is black when 70% of it is darker than this; "
        "higher drops more patches.",
    ),
    option(
        "--write-batch",
        type=click.IntRange(min=1),
        default=8192,
        show_default=True,
        help="Coordinate rows buffered before each HDF5 write.",
    ),
    _flag("--save-images", "Also write patch PNGs to images/<stem>/."),
    _flag("--visualize-grids", "Draw the kept patches on the thumbnail."),
    _flag("--visualize-mask", "Draw the tissue mask on the thumbnail."),
    VISUALIZE_CONTOURS,
    SAVE_GEOJSON,
    _flag("--skip-existing", "Skip slides whose HDF5 exists (also the behaviour without --force)."),
    _flag(
        "--force",
        "Recompute existing outputs. With --feature-extractors: only those feature sets, on "
        "the file's coordinates, keeping its others; a file whose coordinates were made "
        "otherwise is made anew, and the summary names what it held.",
    ),
)

coordinates = compose(patch_size_option(), target_mag_option(), patch_choices, artifact_options)

# How patch encoders run, but which ones.
feature_runtime = compose(
    option(
        "--feature-device",
        default=None,
        help="Device for the encoders.  [default: same as --device]",
    ),
    option(
        "--feature-batch-size",
        type=click.IntRange(min=1),
        default=32,
        show_default=True,
        help="Patches per encoder forward pass.",
    ),
    option(
        "--feature-num-workers",
        type=click.IntRange(min=1),
        default=4,
        show_default=True,
        help="Threads running plugin encoders' per-patch preprocess.",
    ),
    option("--feature-precision", type=PRECISION_CHOICE, default=None, help=PRECISION_HELP),
    FEATURE_PLUGINS,
    WEIGHTS_DIR,
)

features = compose(
    option(
        "--feature-extractors",
        required=True,
        help="Encoders, comma or space separated (e.g. 'resnet50,uni_v2'); see "
        "`atlaspatch encoders`. Each patch is read once and fed to all of them.",
    ),
    option(
        "--remove-features",
        default="",
        callback=lambda ctx, param, text: tuple(split_names(text or "")),
        help="Feature sets to remove from existing HDF5s first, comma or space separated; "
        "each removal is said in the summary. Nothing else removes a feature set: --force "
        "recomputes only those of --feature-extractors.",
    ),
    feature_runtime,
)

segmenter_endpoint = compose(
    option(
        "--segmenter-url",
        default=None,
        help="Segmenter service (host:port, grpc://host:port, grpcs://host:port); the model "
        "asked for is --tissue-model. Without it segmentation runs in this process.",
    ),
    TOKEN,
    TLS_CA,
    TLS_CLIENT,
)

encoder_endpoint = compose(
    option(
        "--encoder-url",
        default=None,
        help="Encoder service (host:port, grpc://, grpcs://). Without it the encoders run in "
        "this process.",
    ),
    option(
        "--send-tiles/--send-pixels",
        default=True,
        show_default=True,
        help="With --encoder-url: send the slide's own JPEG tiles where the patches lie on a "
        "tiled-JPEG level's pixel grid (about a tenth of the bytes; the service decodes "
        "them), or always decoded pixels.",
    ),
)
