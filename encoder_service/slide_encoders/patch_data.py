"""Reading one slide's patch features from its HDF5 (AtlasPatch's layout): the
`features/<patch encoder>` matrix, the level-0 `coords` it is row-aligned with, and the
patch geometry from the file attributes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from atlaspatch.api.errors import InvalidInput
from atlaspatch.encoder_service.slide_encoders.catalog import SlideEncoderFacts

GEOMETRY = ("patch_size", "patch_size_level0", "target_magnification")


@dataclass(frozen=True)
class PatchData:
    path: Path
    features: np.ndarray  # float32 (N, D)
    xy: np.ndarray  # int64 (N, 2), level-0 top-left corners
    patch_size: int
    patch_size_level0: int
    target_magnification: float

    @property
    def num_patches(self) -> int:
        return int(self.features.shape[0])


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
        path,
        matrix,
        xy[:, :2],
        int(geometry["patch_size"]),
        int(geometry["patch_size_level0"]),
        float(geometry["target_magnification"]),
    )


def check_patch_data(data: PatchData, name: str, dim: int, patch_size: int | None) -> None:
    """Refuse features a model was not made for: another dimension or patch size."""
    if data.features.shape[1] != dim:
        raise InvalidInput(
            f"{data.path}: {name} reads {dim}-d patch features, these are "
            f"{data.features.shape[1]}-d"
        )
    if patch_size is not None and data.patch_size != patch_size:
        raise InvalidInput(
            f"{data.path}: {name} needs {patch_size} px patches, these are {data.patch_size} px"
        )


def read_model_input(patch_file: Path, facts: SlideEncoderFacts, dim: int) -> PatchData:
    """The patch features a slide model reads, refused unless they are the ones it was made for."""
    assert facts.patch_encoder is not None
    data = read_patch_data(patch_file, facts.patch_encoder)
    check_patch_data(data, facts.name, dim, facts.patch_size)
    return data


def _attribute(h5: h5py.File, name: str) -> float:
    for holder in (h5.attrs, h5["coords"].attrs):
        if name in holder:
            return float(holder[name])
    raise InvalidInput(f"{h5.filename} lacks the {name} attribute")
