"""The `qc/` group of a slide's HDF5: one float32 (N,) dataset per score and `qc/usable` bool
(N,), row-aligned with `coords`; the thresholds and where the scores came from as the group's
attributes."""

from __future__ import annotations

import json

import h5py
import numpy as np

from atlaspatch.orchestrator.quality.names import NAMES
from atlaspatch.orchestrator.quality.verdict import PatchQuality

QC_GROUP = "qc"


def write_quality(
    h5: h5py.File, quality: PatchQuality, thresholds: dict[str, float], dropped: int | None
) -> None:
    """`dropped`: how many unusable patches --drop-artifacts left out of coords (None: kept)."""
    group = h5.require_group(QC_GROUP)
    for index, name in enumerate(NAMES):
        group.create_dataset(name, data=quality.scores[:, index].astype(np.float32))
    group.create_dataset("usable", data=quality.usable(thresholds))
    group.attrs["thresholds"] = json.dumps(thresholds, sort_keys=True)
    group.attrs["source"] = quality.source
    if quality.model:
        group.attrs["artifact_model"] = json.dumps(quality.model, sort_keys=True)
    group.attrs["usable_when"] = "every score below its threshold (NaN: not measured, passes)"
    group.attrs["dropped_unusable"] = -1 if dropped is None else dropped


def read_usable(h5: h5py.File) -> np.ndarray | None:
    group = h5.get(QC_GROUP)
    return None if group is None or "usable" not in group else group["usable"][...]
