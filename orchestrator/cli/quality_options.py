"""The patch-quality options of the coordinate commands: thresholds for the verdict stored in
`qc/usable`, and whether unusable patches are left out of `coords`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from atlaspatch.orchestrator.cli.options import compose, option
from atlaspatch.orchestrator.quality.names import DEFAULT_THRESHOLDS, NAMES


def _thresholds(ctx: click.Context, param: click.Parameter, values: Any) -> dict[str, float]:
    thresholds: dict[str, float] = {}
    for text in values or ():
        name, _, number = str(text).partition("=")
        name = name.strip()
        if name not in NAMES:
            raise click.BadParameter(
                f"{text!r}: the scores are {', '.join(NAMES)} (as NAME=VALUE)", ctx, param
            )
        try:
            value = float(number)
        except ValueError:
            raise click.BadParameter(f"{text!r}: {number!r} is not a number", ctx, param) from None
        if not 0 < value <= 1:
            raise click.BadParameter(f"{text!r}: a threshold is in (0, 1]", ctx, param)
        thresholds[name] = value
    return thresholds


DEFAULTS = ", ".join(f"{name}={value:g}" for name, value in DEFAULT_THRESHOLDS.items())

artifact_options = compose(
    option(
        "--artifact-model",
        type=click.Choice(["grandqc"]),
        help="Score patches with an artifact model instead of from their pixels: grandqc, "
        "GrandQC's U-Net (eight classes, at 1 um/px; needs --no-fast-mode and its "
        "checkpoint). Runs on the segmenter service with --segmenter-url.",
    ),
    option(
        "--artifact-checkpoint",
        type=click.Path(path_type=Path),
        help="GrandQC's artifact weights as a state_dict (GrandQC_MPP1_state_dict.pth); else "
        "$ATLASPATCH_GRANDQC_ARTIFACT_CHECKPOINT, the Hugging Face cache or hub "
        "(MahmoodLab/hest-tissue-seg).",
    ),
    option(
        "--drop-artifacts",
        is_flag=True,
        help="Leave unusable patches (a quality score at or over its threshold) out of coords "
        "altogether; without it they are kept and flagged in qc/usable.",
    ),
    option(
        "--artifact-threshold",
        "artifact_thresholds",
        multiple=True,
        metavar="NAME=VALUE",
        callback=_thresholds,
        help="A patch is unusable when a score reaches its threshold; repeatable. Scores: blur "
        "(share of the stained part out of focus), pen, fold, bubble (rims, the coverslip's "
        f"edge), background (glass).  [default: {DEFAULTS}]",
    ),
)
