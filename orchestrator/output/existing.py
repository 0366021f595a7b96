"""Deciding whether an existing HDF5 can be reused: its coordinates only when they were made
with the parameters this run asks for (the reference reuses them silently, whatever they are)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from atlaspatch.api.encoder_facts import EncoderFacts
from atlaspatch.orchestrator.coordinates.geometry import PatchGeometry
from atlaspatch.orchestrator.output.feature_sets import (
    SLIDE_FEATURES,
    complete_feature_sets,
    slide_embeddings_of,
    stored_feature_facts,
)
from atlaspatch.orchestrator.output.quality_sets import QC_GROUP
from atlaspatch.orchestrator.output.writer import COORDS_COMPLETE
from atlaspatch.orchestrator.settings import CoordsSettings

# What a feature set must share with this run's encoder to be reused.
FEATURE_FACTS = ("precision", "weights_sha256", "features_version")
# Feature sets written before versions were recorded are version 1.
FEATURES_VERSION_BEFORE_RECORDING = "1"

# What decides which patches exist; write_batch and save_images do not.
COORDINATE_PARAMETERS = (
    "patch_size",
    "target_magnification",
    "step_size",
    "tissue_thresh",
    "min_tissue_fraction",
    "fast_mode",
    "edge_patches",
    "drop_artifacts",
    "artifact_thresholds",
    "artifact_model",
)
# What files made before a parameter existed were made with.
PARAMETERS_BEFORE = {
    "edge_patches": False,
    "drop_artifacts": False,
    "artifact_thresholds": {},
    "artifact_model": None,
}
CONTENT_FILTER_PARAMETERS = ("white_thresh", "black_thresh")


@dataclass(frozen=True)
class Expected:
    """What this run would write: the file attributes an existing file must match."""

    settings: CoordsSettings
    segmenter: dict[str, str]  # the segmenter's provenance
    mpp_override: float | None
    artifacts: dict[str, str] = field(default_factory=dict)  # the artifact model's, if any


@dataclass(frozen=True)
class ExistingOutput:
    path: Path
    mismatch: str | None  # why its coordinates cannot be reused, if they cannot
    damaged: bool = False  # unreadable, or no coords: nothing in it can be reused
    # The feature sets it holds, each with its FEATURE_FACTS.
    features: dict[str, dict[str, str]] = field(default_factory=dict)
    coords_complete: bool = False  # set by a run that died while embedding (see resume)
    # The feature sets with every row written, by name, with their dimension.
    complete_features: dict[str, int] = field(default_factory=dict)
    slide_features: list[str] = field(default_factory=list)  # its slide embeddings' names
    # Of each feature set, the slide embeddings made from it (replacing it drops them).
    derived: dict[str, list[str]] = field(default_factory=dict)

    @property
    def encoders(self) -> list[str]:
        return list(self.features)


def inspect_existing(path: Path, expected: Expected) -> ExistingOutput:
    try:
        with h5py.File(path, "r") as h5:
            attrs = dict(h5.attrs)
            features = stored_feature_facts(h5, FEATURE_FACTS)
            has_coords = "coords" in h5
            complete = complete_feature_sets(h5) if has_coords else {}
            slide_features = list(h5.get(SLIDE_FEATURES, {}))
            derived = {name: slide_embeddings_of(h5, name) for name in features}
            artifacts = _json(h5[QC_GROUP].attrs.get("artifact_model")) if QC_GROUP in h5 else {}
    except OSError as exc:
        return ExistingOutput(path, f"it cannot be read ({exc})", damaged=True)
    if not has_coords:
        return ExistingOutput(path, "it has no coords", damaged=True)
    mismatch = _mismatch(attrs, artifacts, expected)
    coords_complete = bool(attrs.get(COORDS_COMPLETE, False))
    return ExistingOutput(
        path,
        mismatch,
        features=features,
        coords_complete=coords_complete,
        complete_features=complete,
        slide_features=slide_features,
        derived=derived,
    )


def _mismatch(attrs: dict, artifacts: dict, expected: Expected) -> str | None:
    """What differs between a file (its attributes, its qc/ model's provenance) and this run."""
    settings, segmenter = expected.settings, expected.segmenter
    if "parameters" not in attrs:
        return _reference_mismatch(attrs, settings)
    try:
        stored = json.loads(attrs.get("parameters", "{}"))
    except (TypeError, ValueError):
        stored = {}
    wanted = settings.as_dict()
    names = COORDINATE_PARAMETERS + (() if settings.fast_mode else CONTENT_FILTER_PARAMETERS)
    stored = {**PARAMETERS_BEFORE, **stored}
    differences = [
        f"{name} {stored.get(name)!r} there, {wanted[name]!r} asked"
        for name in names
        if stored.get(name) != wanted[name]
    ]
    # Empty where the tissue model could not be asked (its weights are not here): not
    # compared, and the decision says so.
    if segmenter:
        there, asked = attrs.get("tissue_model"), segmenter.get("tissue_model")
        if there != asked:
            differences.append(f"tissue model {there!r} there, {asked!r} asked")
        elif attrs.get("checkpoint_sha256", "") != segmenter.get("checkpoint_sha256", ""):
            differences.append(f"a different {asked} checkpoint")
        elif (made := _mask_version(attrs)) != segmenter.get("mask_version", "1"):
            differences.append(
                f"masks of version {made} there, {segmenter.get('mask_version', '1')} asked "
                f"(the {asked} model has changed)"
            )
    # Scores (and with --drop-artifacts, coordinates) of another checkpoint are made again.
    key = "artifact_checkpoint_sha256"
    if settings.artifact_model and expected.artifacts.get(key, "") != artifacts.get(key, ""):
        differences.append(f"a different {settings.artifact_model} artifact checkpoint")
    stored_override = json.loads(attrs.get("mpp_override", "null"))
    if stored_override != expected.mpp_override:
        differences.append(f"mpp override {stored_override} there, {expected.mpp_override} asked")
    return "; ".join(differences) or None


def _mask_version(attrs: dict) -> str:
    """The version of the weight-free mask a file's coordinates were made from ("1" where it
    was not recorded)."""
    return str(_json(attrs.get("segmenter")).get("mask_version", "1"))


def _json(text: object) -> dict:
    try:
        value = json.loads(text) if isinstance(text, (str, bytes)) else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _reference_mismatch(attrs: dict, settings: CoordsSettings) -> str | None:
    """A file AtlasPatch wrote (no `parameters`) records its geometry but not how its patches
    were chosen (tissue model, thresholds): it is compared on what it records."""
    step = settings.step_size or settings.patch_size
    wanted = {
        "patch_size": settings.patch_size,
        "target_magnification": settings.target_magnification,
        "overlap": max(0, settings.patch_size - step),
    }
    differences = []
    for name, asked in wanted.items():
        there = attrs.get(name)
        there = there.item() if isinstance(there, np.generic) else there
        try:
            same = there is not None and float(there) == float(asked)
        except (TypeError, ValueError):
            same = False
        if not same:
            differences.append(f"{name} {there!r} there, {asked!r} asked")
    return "; ".join(differences) or None


def feature_mismatch(existing: ExistingOutput, wanted: dict[str, EncoderFacts]) -> str | None:
    """How the feature sets already there differ from the encoders this run would use
    (weights, precision, dimension), or None when they are the same."""
    differences = []
    for name, facts in wanted.items():
        there_dim, asked_dim = existing.complete_features.get(name), facts.embedding_dim
        if there_dim is not None and there_dim != asked_dim:
            differences.append(f"features/{name} dimension {there_dim} there, {asked_dim} asked")
        for key in FEATURE_FACTS:
            asked_value = getattr(facts, key)
            there, asked = (
                existing.features[name][key],
                "" if asked_value is None else str(asked_value),
            )
            if key == "features_version" and not there:
                there = FEATURES_VERSION_BEFORE_RECORDING
            if there and asked and there != asked:
                differences.append(f"features/{name} {key} {there[:12]} there, {asked[:12]} asked")
    return "; ".join(differences) or None


def reading_geometry(h5: h5py.File, coords: np.ndarray) -> PatchGeometry:
    """Enough geometry to read the stored patches again: level, read size, output size."""
    patch_size = int(h5.attrs["patch_size"])
    read_size = int(coords[0, 2]) if len(coords) else patch_size
    return PatchGeometry(
        patch_size=patch_size,
        step_size=int(h5.attrs.get("step_size", patch_size)),
        target_magnification=float(h5.attrs["target_magnification"]),
        level0_magnification=float(h5.attrs["level0_magnification"]),
        level=int(coords[0, 4]) if len(coords) else 0,
        size_level0=int(h5.attrs["patch_size_level0"]),
        step_level0=0,
        read_size=read_size,
    )
