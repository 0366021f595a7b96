"""Slide embeddings in the slide's own HDF5, as AtlasPatch 1.1.0 keeps them:
`slide_features/<encoder>`, a 1-D float32 dataset with the attributes encoder_name,
source_patch_encoder, num_patches, patch_size, patch_size_level0 and target_magnification.
The mean pool, which can average any patch encoder's features, also keeps each of its means
as `slide_features/mean.<patch encoder>`, so that a mean over another patch encoder never
replaces it; `slide_features/mean`, where the reference's readers look, is the latest.

They are written on a copy of the file that is renamed over it when complete, so a run that
dies never leaves the slide's file damaged or an embedding half-written."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from atlaspatch.client.slide_encoders import MEAN, SlideEncoderFacts
from atlaspatch.orchestrator.output.feature_sets import SLIDE_FEATURES, complete_feature_sets
from atlaspatch.orchestrator.output.space import check_room
from atlaspatch.orchestrator.output.writer import partial_path


@dataclass(frozen=True)
class PatchFile:
    """What a slide's HDF5 holds that slide embeddings depend on."""

    path: Path
    num_patches: int
    patch_size: int
    patch_size_level0: int
    target_magnification: int | float
    features: dict[str, int]  # complete feature sets, by patch encoder, with their dimension
    wsi_path: str | None = None

    def provenance(self, facts: SlideEncoderFacts) -> dict[str, Any]:
        """The attributes of an embedding made by `facts` from this file."""
        return {
            "encoder_name": facts.name,
            "source_patch_encoder": facts.patch_encoder,
            "num_patches": self.num_patches,
            "patch_size": self.patch_size,
            "patch_size_level0": self.patch_size_level0,
            "target_magnification": self.target_magnification,
        }

    def feature_dim(self, facts: SlideEncoderFacts) -> int:
        """The dimension of the features `facts` reads; a clear error where they are absent
        or made at another patch size than the encoder's."""
        assert facts.patch_encoder is not None
        if facts.patch_encoder not in self.features:
            raise ValueError(f"{self.path} lacks features/{facts.patch_encoder}")
        if facts.patch_size is not None and facts.patch_size != self.patch_size:
            raise ValueError(
                f"{self.path} has {self.patch_size} px patches, {facts.name} needs "
                f"{facts.patch_size} px"
            )
        return self.features[facts.patch_encoder]

    def expected_dim(self, facts: SlideEncoderFacts) -> int:
        return facts.embedding_dim or self.feature_dim(facts)


def read_patch_file(path: Path) -> PatchFile:
    with h5py.File(path, "r") as h5:
        if "coords" not in h5:
            raise ValueError(f"{path} has no coords")
        attrs = h5.attrs
        try:
            geometry = [attrs[name] for name in ("patch_size", "patch_size_level0")]
            magnification = float(attrs["target_magnification"])
        except KeyError as exc:
            raise ValueError(f"{path} lacks the {exc.args[0]} attribute") from exc
        wsi_path = attrs.get("wsi_path")
        return PatchFile(
            path,
            len(h5["coords"]),
            int(geometry[0]),
            int(geometry[1]),
            int(magnification) if magnification.is_integer() else magnification,
            complete_feature_sets(h5),
            str(wsi_path) if wsi_path is not None else None,
        )


def dataset_names(encoder: str, patch_encoder: str | None) -> tuple[str, ...]:
    """Where, under `slide_features/`, the encoder's embedding is kept; the reference's name
    last."""
    if encoder == MEAN and patch_encoder:
        return (f"{MEAN}.{patch_encoder}", MEAN)
    return (encoder,)


def reusable(patch_file: PatchFile, facts: SlideEncoderFacts) -> bool:
    """Whether `slide_features/<name>` is there (with the mean's per-patch-encoder copy,
    where the file has one) and was made by this encoder from the file's present patches
    and features (the reference's checks)."""
    wanted = patch_file.provenance(facts)
    dim = patch_file.expected_dim(facts)
    with h5py.File(patch_file.path, "r") as h5:
        group = h5.get(SLIDE_FEATURES, {})
        found = [name for name in dataset_names(facts.name, facts.patch_encoder) if name in group]
        if facts.name not in found:
            return False
        for name in found:
            dataset = group[name]
            if not isinstance(dataset, h5py.Dataset) or dataset.shape != (dim,):
                return False
            if not all(_same(dataset.attrs.get(key), value) for key, value in wanted.items()):
                return False
    return True


def write_slide_embeddings(
    patch_file: PatchFile, vectors: dict[str, tuple[np.ndarray, dict[str, Any]]]
) -> list[str]:
    """`slide_features/<name>` for each name (replacing one there), all in one copy of the
    file renamed over it; what was added, replaced and kept, as the summary says it."""
    path = patch_file.path
    temporary = partial_path(path)
    added = sum(2 * vector.nbytes for vector, _ in vectors.values()) + (1 << 20)
    check_room(path.parent, temporary.name, path.stat().st_size + added)
    notes: list[str] = []
    try:
        shutil.copyfile(path, temporary)
        with h5py.File(temporary, "r+") as h5:
            group = h5.require_group(SLIDE_FEATURES)
            for name, (vector, attrs) in vectors.items():
                for key in dataset_names(name, attrs.get("source_patch_encoder")):
                    if key == MEAN:
                        notes += _keep_earlier_mean(group, attrs.get("source_patch_encoder"))
                    notes.append(
                        f"{SLIDE_FEATURES}/{key} " + ("replaced" if key in group else "added")
                    )
                    if key in group:
                        del group[key]
                    dataset = group.create_dataset(key, data=np.asarray(vector, dtype=np.float32))
                    for attr, value in attrs.items():
                        dataset.attrs[attr] = value
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return notes


def _keep_earlier_mean(group: h5py.Group, patch_encoder: str | None) -> list[str]:
    """A `slide_features/mean` over another patch encoder, written before means were kept per
    patch encoder, copied to its own name before it is replaced."""
    earlier = group.get(MEAN)
    if not isinstance(earlier, h5py.Dataset):
        return []
    source = earlier.attrs.get("source_patch_encoder")
    source = source.decode() if isinstance(source, bytes) else source
    if not source or source == patch_encoder or f"{MEAN}.{source}" in group:
        return []
    group.copy(earlier, f"{MEAN}.{source}")
    return [f"the mean over {source} kept as {SLIDE_FEATURES}/{MEAN}.{source}"]


def _same(stored: Any, wanted: Any) -> bool:
    if stored is None:
        return False
    if isinstance(wanted, str):
        return str(stored.decode() if isinstance(stored, bytes) else stored) == wanted
    try:
        return float(stored) == float(wanted)
    except (TypeError, ValueError):
        return False
