"""Deciding whether an existing HDF5 can be reused: its coordinates only when they were made
with the parameters this run asks for (the reference reuses them silently, whatever they are)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py

from orchestrator.features import FEATURES_GROUP
from orchestrator.settings import CoordsSettings

# What decides which patches exist; write_batch and save_images do not.
COORDINATE_PARAMETERS = (
    "patch_size",
    "target_magnification",
    "step_size",
    "tissue_thresh",
    "min_tissue_fraction",
    "fast_mode",
)
CONTENT_FILTER_PARAMETERS = ("white_thresh", "black_thresh")


@dataclass(frozen=True)
class ExistingOutput:
    path: Path
    mismatch: str | None  # why its coordinates cannot be reused, if they cannot
    encoders: list[str] = field(default_factory=list)  # feature sets it already holds


def inspect_existing(
    path: Path,
    settings: CoordsSettings,
    segmenter: dict[str, str],
    mpp_override: float | None,
) -> ExistingOutput | None:
    if not path.exists():
        return None
    try:
        with h5py.File(path, "r") as h5:
            attrs = dict(h5.attrs)
            encoders = list(h5[FEATURES_GROUP].keys()) if FEATURES_GROUP in h5 else []
            has_coords = "coords" in h5
    except OSError as exc:
        return ExistingOutput(path, f"the existing file cannot be read ({exc})")
    if not has_coords:
        return ExistingOutput(path, "the existing file has no coords")
    return ExistingOutput(path, _mismatch(attrs, settings, segmenter, mpp_override), encoders)


def _mismatch(
    attrs: dict, settings: CoordsSettings, segmenter: dict[str, str], mpp_override: float | None
) -> str | None:
    try:
        stored = json.loads(attrs.get("parameters", "{}"))
    except (TypeError, ValueError):
        stored = {}
    wanted = settings.as_dict()
    names = COORDINATE_PARAMETERS + (() if settings.fast_mode else CONTENT_FILTER_PARAMETERS)
    differences = [
        f"{name} {stored.get(name)!r} there, {wanted[name]!r} asked"
        for name in names
        if stored.get(name) != wanted[name]
    ]
    there, asked = attrs.get("tissue_model"), segmenter.get("tissue_model")
    if there != asked:
        differences.append(f"tissue model {there!r} there, {asked!r} asked")
    elif attrs.get("checkpoint_sha256", "") != segmenter.get("checkpoint_sha256", ""):
        differences.append("a different SAM2 checkpoint")
    stored_override = json.loads(attrs.get("mpp_override", "null"))
    if stored_override != mpp_override:
        differences.append(f"mpp override {stored_override} there, {mpp_override} asked")
    return "; ".join(differences) or None
