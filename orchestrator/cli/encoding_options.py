"""The options of `encode-slide` and `encode-patient`: which slide or patient encoders,
the patch encoder the mean pool averages, and the patch geometry they need (by default what
the encoders were trained on)."""

from __future__ import annotations

import click

from atlaspatch.client.slide_encoders import PATIENT_ENCODERS, SLIDE_ENCODERS
from atlaspatch.orchestrator.cli.options import FILE, VERBOSE, compose, option
from atlaspatch.orchestrator.cli.pipeline_options import (
    OUTPUT,
    encoder_endpoint,
    feature_runtime,
    patch_choices,
    patch_size_option,
    segmentation,
    segmenter_endpoint,
    target_mag_option,
)

_GEOMETRY_DEFAULT = "  [default: what the encoders need; required for mean alone]"

MEAN_PATCH_ENCODER = option(
    "--mean-patch-encoder",
    default=None,
    help="The patch encoder whose features the `mean` encoder averages (e.g. "
    "efficientnet_lite0); its features are computed first where missing.",
)

_encoding = compose(
    segmentation,
    segmenter_endpoint,
    patch_size_option(required=False, more_help=_GEOMETRY_DEFAULT),
    target_mag_option(required=False, more_help=_GEOMETRY_DEFAULT),
    patch_choices,
    feature_runtime,
    encoder_endpoint,
    MEAN_PATCH_ENCODER,
)

slide_encoding = compose(
    option(
        "--slide-encoders",
        required=True,
        help="Slide encoders, comma or space separated: "
        f"{', '.join(SLIDE_ENCODERS)}. Each writes slide_features/<name> into "
        "patches/<stem>.h5.",
    ),
    _encoding,
)

patient_input = compose(
    click.argument("manifest", type=FILE),
    OUTPUT,
    VERBOSE,
)

patient_encoding = compose(
    option(
        "--patient-encoders",
        required=True,
        help="Patient encoders, comma or space separated: "
        f"{', '.join(PATIENT_ENCODERS)}. Each writes patient_features/<name>/<case_id>.h5.",
    ),
    _encoding,
)
