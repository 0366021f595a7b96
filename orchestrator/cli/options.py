"""Every command-line option, declared once, each with its ATLASPATCH_* environment variable
(Helm values and SLURM settings become environment variables). An option's name is the
field of the settings object it fills (`orchestrator.settings.settings_from`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from atlaspatch.api.names import PRECISIONS, TISSUE_MODELS

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]
ENV_PREFIX = "ATLASPATCH_"


def option(*declarations: str, **attrs: Any) -> Decorator:
    """A click option whose environment variable is ATLASPATCH_ and its long name."""
    long_name = next(d for d in declarations if d.startswith("--")).split("/")[0]
    envvar = ENV_PREFIX + long_name[2:].upper().replace("-", "_")
    return click.option(*declarations, envvar=envvar, show_envvar=True, **attrs)


class Number(click.FloatRange):
    """A float within a range, and a number: "nan" and "inf" pass click's own range checks
    (every comparison with nan is false), and are refused here."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number

    def _describe_range(self) -> str:
        # click would print "x<=None" for a number without bounds.
        if self.min is None and self.max is None:
            return ""
        return super()._describe_range()


def compose(*decorators: Decorator) -> Decorator:
    def apply(function: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


def split_names(text: str) -> list[str]:
    names = [name for name in text.replace(",", " ").split() if name]
    return list(dict.fromkeys(names))  # keep order, drop repeats


def _mpp_table(ctx: click.Context, param: click.Parameter, path: Path | None) -> dict:
    if path is None:
        return {}
    from atlaspatch.orchestrator.slides.magnification import load_mpp_csv

    try:
        return load_mpp_csv(path)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"--mpp-csv: {exc}") from exc


def default_workers(ctx: click.Context, param: click.Parameter, value: int | None) -> int:
    from atlaspatch.api.cpus import usable_cpus

    return value or usable_cpus()


FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
FOLDER = click.Path(file_okay=False, path_type=Path)

# --- shared by several commands ---
VERBOSE = option("--verbose", "-v", is_flag=True, help="Debug logging; no progress bar.")
MPP_CSV = option(
    "--mpp-csv",
    "mpp_table",
    type=FILE,
    callback=_mpp_table,
    help="CSV with columns wsi,mpp; overrides the slides' microns per pixel (and so their "
    "magnification, 10/mpp).",
)
DEVICE = option(
    "--device",
    default="cuda",
    show_default=True,
    help="cuda, cuda:N or cpu (cuda falls back to the CPU if absent). In `process`, for "
    "segmentation and, unless --feature-device, the encoders.",
)
TISSUE_MODEL = option(
    "--tissue-model",
    type=click.Choice(TISSUE_MODELS),
    default="sam2",
    show_default=True,
    help="sam2: AtlasPatch's fine-tuned SAM2.1 Hiera-tiny (needs its checkpoint). "
    "otsu: classical saturation thresholding, needs no weights. grandqc: GrandQC's UNet++ "
    "tissue model (needs its checkpoint).",
)
SAM2_CHECKPOINT = option(
    "--sam2-checkpoint",
    type=click.Path(path_type=Path),
    help="AtlasPatch SAM2 checkpoint (model.pth); else the Hugging Face cache or hub "
    "(AtlasAnalyticsLab/AtlasPatch).",
)
GRANDQC_CHECKPOINT = option(
    "--grandqc-checkpoint",
    type=click.Path(path_type=Path),
    help="GrandQC's tissue checkpoint (Tissue_Detection_MPP10.pth, CC BY-NC-SA 4.0) for "
    "--tissue-model grandqc; else the Hugging Face cache or hub (MahmoodLab/hest-tissue-seg).",
)
ENCODERS = option(
    "--encoders",
    default="",
    help="Encoders, comma or space separated: those a service loads at start (clients may "
    "have others loaded only where --loadable allows), or those to export.",
)
PRECISION_CHOICE = click.Choice(PRECISIONS)
PRECISION_HELP = "Encoder precision.  [default: float16 on a GPU, float32 on the CPU]"
PRECISION = option("--precision", type=PRECISION_CHOICE, default=None, help=PRECISION_HELP)
MAX_BATCH_SIZE = option(
    "--max-batch-size",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Most patches merged into one forward pass.",
)
MAX_QUEUE_DELAY_MS = option(
    "--max-queue-delay-ms",
    type=Number(min=0),
    default=5.0,
    show_default=True,
    help="Longest a request waits for others to batch with.",
)
WEIGHTS_DIR = option(
    "--weights-dir",
    type=FOLDER,
    help="Folder of encoder weights: <name>.safetensors|.pth|.bin or <name>/. Looked at "
    "before the Hugging Face cache and hub.",
)
FEATURE_PLUGINS = option(
    "--feature-plugin",
    "feature_plugins",
    multiple=True,
    type=FILE,
    help="Python file defining register_feature_extractors(registry, device, dtype, "
    "num_workers), which adds encoders (the operator's choice, never a client's); repeatable.",
)
TOKEN = option(
    "--token",
    default=None,
    help="Bearer token: a service requires it on every call but health checks; clients send it.",
)
TLS_CA = option(
    "--tls-ca",
    default=None,
    type=FILE,
    help="CA certificate (or the server's self-signed one) for grpcs:// endpoints.",
)
TLS_CLIENT = compose(
    option(
        "--tls-client-cert",
        default=None,
        type=FILE,
        help="This client's certificate, for services that require mutual TLS...",
    ),
    option("--tls-client-key", default=None, type=FILE, help="...and its private key."),
)
VISUALIZE_CONTOURS = option(
    "--visualize-contours", is_flag=True, help="Draw tissue (red) and hole (blue) outlines."
)
SAVE_GEOJSON = option(
    "--save-geojson",
    is_flag=True,
    help="Write the tissue outlines as GeoJSON QuPath imports (File > Import objects): "
    "geojson/<stem>.geojson, in level-0 pixels, holes as inner rings.",
)


def tissue_checkpoint(model: str, options: dict[str, Any]) -> Path | None:
    """The checkpoint option of `model`: --grandqc-checkpoint for grandqc, else
    --sam2-checkpoint."""
    checkpoint: Path | None = options.get(
        "grandqc_checkpoint" if model == "grandqc" else "sam2_checkpoint"
    )
    return checkpoint
