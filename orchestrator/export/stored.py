"""One slide's HDF5 output as the exporters read it: the patch grid, the complete feature
sets, the slide embeddings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from atlaspatch.orchestrator.output.feature_sets import (
    FEATURES_GROUP,
    SLIDE_FEATURES,
    complete_feature_sets,
)
from atlaspatch.orchestrator.output.writer import COORDS_COMPLETE
from atlaspatch.orchestrator.slides.errors import SlideError


@dataclass(frozen=True)
class StoredSlide:
    stem: str
    xy: np.ndarray  # (N, 2) int64, level-0 top-left corners
    level: int  # the pyramid level the patches are read from
    read_size: int  # their side there, in pixels
    attrs: dict[str, Any]  # the file's attributes
    feature_names: list[str]  # the feature sets written whole
    incomplete: list[str]  # feature sets not written whole, left out

    @property
    def patch_size(self) -> int:
        return int(self.attrs["patch_size"])

    @property
    def patch_size_level0(self) -> int:
        return int(self.attrs["patch_size_level0"])


def read_stored(path: Path) -> StoredSlide:
    """The grid of `path`; a file that is not a finished AtlasPatch output is a SlideError."""
    try:
        with h5py.File(path, "r") as h5:
            if "coords" not in h5:
                raise SlideError("it has no coords")
            attrs = dict(h5.attrs)
            if attrs.get(COORDS_COMPLETE) is False:
                raise SlideError("its coordinates are not all written (a run died making them)")
            coords = np.asarray(h5["coords"][...], dtype=np.int64)
            complete = complete_feature_sets(h5)
            incomplete = sorted(set(h5.get(FEATURES_GROUP, {})) - set(complete))
    except OSError as exc:
        raise SlideError(f"it cannot be read: {exc}") from exc
    missing = [key for key in ("patch_size", "patch_size_level0") if key not in attrs]
    if missing:
        raise SlideError(f"it lacks the attributes {', '.join(missing)}")
    if coords.ndim != 2 or coords.shape[1] < 5:
        raise SlideError(f"its coords have shape {coords.shape}, not (N, 5)")
    levels, sizes = np.unique(coords[:, 4]), np.unique(coords[:, 2:4])
    if len(levels) > 1 or len(sizes) > 1:
        raise SlideError("its patches are read at several levels or sizes; one grid is exported")
    level = int(levels[0]) if len(levels) else 0
    read_size = int(sizes[0]) if len(sizes) else int(attrs["patch_size"])
    return StoredSlide(
        path.stem, coords[:, :2], level, read_size, attrs, sorted(complete), incomplete
    )


def read_features(path: Path, name: str) -> np.ndarray:
    with h5py.File(path, "r") as h5:
        return np.asarray(h5[FEATURES_GROUP][name][...], dtype=np.float32)


def slide_embeddings(path: Path) -> dict[str, np.ndarray]:
    """The slide embeddings (`slide_features/<name>`, 1-D), by name."""
    with h5py.File(path, "r") as h5:
        group = h5.get(SLIDE_FEATURES, {})
        return {
            name: np.asarray(group[name][...], dtype=np.float32)
            for name in group
            if group[name].ndim == 1
        }
