"""Reading one slide's patch features from its HDF5 (AtlasPatch's layout) for a slide or
patient encoder: the `features/<patch encoder>` matrix, the level-0 `coords` it is
row-aligned with, and the patch geometry from the file's attributes."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from atlaspatch.api.errors import InvalidInput
from atlaspatch.api.slide_features import PatchData

GEOMETRY = ("patch_size", "patch_size_level0", "target_magnification")


def read_patch_data(path: Path, patch_encoder: str) -> PatchData:
    """The features of `patch_encoder` in the slide file at `path`, checked for shape."""
    with h5py.File(path, "r") as h5:
        coords = h5.get("coords")
        features = h5.get(f"features/{patch_encoder}")
        if not isinstance(coords, h5py.Dataset):
            raise InvalidInput(f"{path} has no coords dataset")
        if not isinstance(features, h5py.Dataset):
            raise InvalidInput(f"{path} has no features/{patch_encoder}")
        geometry = {name: _attribute(h5, name) for name in GEOMETRY}
        matrix = np.asarray(features[...], dtype=np.float32)
        xy = np.asarray(coords[...], dtype=np.int64)
    if matrix.ndim != 2 or xy.ndim != 2 or xy.shape[1] < 2 or len(xy) != len(matrix):
        raise InvalidInput(
            f"{path}: features/{patch_encoder} {matrix.shape} is not row-aligned with coords "
            f"{xy.shape}"
        )
    if len(matrix) == 0:
        raise InvalidInput(f"{path} has no patches: there is nothing to encode")
    return PatchData(
        str(path),
        matrix,
        np.ascontiguousarray(xy[:, :2]),
        int(geometry["patch_size"]),
        int(geometry["patch_size_level0"]),
        float(geometry["target_magnification"]),
    )


def _attribute(h5: h5py.File, name: str) -> float:
    for holder in (h5.attrs, h5["coords"].attrs):
        if name in holder:
            return float(holder[name])
    raise InvalidInput(f"{h5.filename} lacks the {name} attribute")
