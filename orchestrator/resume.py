"""Finishing what a killed or failed `process` run left behind: its coordinates are complete
and its feature sets are filled up to a batch boundary, under `.<stem>.h5.partial`. A leftover
that cannot be trusted (unreadable, other parameters or encoders) is removed, never used."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import h5py

from orchestrator.features import FeaturePass, continue_features
from orchestrator.h5out import resumable_path
from orchestrator.magnification import mpp_override
from orchestrator.reuse import inspect_existing, reading_geometry
from orchestrator.runner import SlideResult
from orchestrator.settings import CoordsSettings, FeatureSettings, RunSettings
from orchestrator.slide import SlideSource

log = logging.getLogger(__name__)


def clear_leftovers(source: SlideSource, run: RunSettings) -> None:
    """Remove the private temporaries of earlier runs on this slide (the caller holds the
    slide's lock, so their writers are gone)."""
    for leftover in run.patches_dir.glob(f".{source.stem}.h5.*.partial"):
        leftover.unlink(missing_ok=True)


def resume_slide(
    source: SlideSource,
    settings: CoordsSettings,
    provenance: dict[str, str],
    features: FeatureSettings,
    run: RunSettings,
) -> SlideResult | None:
    """The slide finished from its resumable leftover, or None when there is none to use."""
    final = run.patches_dir / f"{source.stem}.h5"
    partial = resumable_path(final)
    if not partial.exists():
        return None
    why = None if not run.force else "--force"
    if why is None:
        why = _unusable(partial, source, settings, provenance, features, run)
    if why is not None:
        log.warning("%s: starting over, the leftover %s is unusable: %s", source.name, partial, why)
        partial.unlink(missing_ok=True)
        return None
    with h5py.File(partial, "r+") as h5:
        coords = h5["coords"][...]
        work = FeaturePass(
            source,
            reading_geometry(h5, coords),
            coords[:, :2],
            features.client_for(features.names),
            features.batch_size,
            run.patch_workers,
            run.show_progress,
        )
        start = continue_features(h5, work)
    os.replace(partial, final)
    reason = f"resumed at patch {start} of {len(coords)}"
    return SlideResult(source, "done", reason, len(coords), final)


def _unusable(
    partial: Path,
    source: SlideSource,
    settings: CoordsSettings,
    provenance: dict[str, str],
    features: FeatureSettings,
    run: RunSettings,
) -> str | None:
    existing = inspect_existing(partial, settings, provenance, mpp_override(source, run.mpp_table))
    if existing is None or existing.mismatch:
        return existing.mismatch if existing else "gone"
    if not existing.coords_complete:
        return "its coordinates are incomplete"
    present = sorted(existing.encoders)
    if present != sorted(features.names):
        return f"it holds features {present}, this run asks for {sorted(features.names)}"
    return None
