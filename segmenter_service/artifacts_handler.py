"""The artifact model's side of the segmenter service, free of gRPC: check a batch of
patches, score it, check the scores. The servicer and the in-process adapter both call it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from atlaspatch.api.errors import InvalidInput, NotFound, shown
from atlaspatch.segmenter_service.grandqc_artifacts import (
    CLASSES,
    MAX_SIDE,
    GrandQCArtifacts,
    artifacts_provenance,
    model_size,
)

ARTIFACT_MODELS = ("grandqc",)
MAX_PATCHES = 256  # per call
MPP_RANGE = (0.05, 20.0)


class ArtifactsHandler:
    def __init__(self, model: GrandQCArtifacts, max_patches: int = MAX_PATCHES):
        self.model = model
        self._max_patches = max_patches

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def classes(self) -> tuple[str, ...]:
        return CLASSES

    def shares(self, name: str, patches: list[np.ndarray], patch_mpp: float) -> np.ndarray:
        """(N, len(CLASSES)) shares of each patch's pixels per class; `name` "" is the
        hosted model."""
        if name and name != self.name:
            raise NotFound(f"this service scores patches with {self.name!r}, not {shown(name)}")
        if not patches:
            raise InvalidInput("no patches")
        if len(patches) > self._max_patches:
            raise InvalidInput(f"{len(patches)} patches; at most {self._max_patches} a call")
        if not MPP_RANGE[0] <= patch_mpp <= MPP_RANGE[1]:
            raise InvalidInput(f"patch_mpp {patch_mpp} is outside {MPP_RANGE}")
        shape = patches[0].shape
        for patch in patches:
            if patch.dtype != np.uint8 or patch.ndim != 3 or patch.shape[2] != 3:
                raise InvalidInput(f"a patch must be (h, w, 3) uint8, not {patch.shape}")
            if patch.shape != shape or 0 in shape:
                raise InvalidInput(f"patches of one call share one non-empty shape: {shape}")
        if max(model_size(shape[:2], patch_mpp)) > MAX_SIDE:
            raise InvalidInput(
                f"{shape[1]}x{shape[0]} px at {patch_mpp} um/px is over {MAX_SIDE} px at the "
                "model's scale"
            )
        shares = self.model.shares(np.stack(patches), patch_mpp)
        if shares.shape != (len(patches), len(CLASSES)):
            raise RuntimeError(f"the artifact model returned {shares.shape} shares")
        return shares

    def provenance(self) -> dict[str, str]:
        return self.model.provenance()


def artifact_provenance(name: str, checkpoint: Path | None = None) -> dict[str, str]:
    """What `build_artifacts_handler` would build says of itself, without building it (no
    torch): from its checkpoint file, which must be here."""
    from atlaspatch.api.hosting.model_files import file_sha256
    from atlaspatch.segmenter_service.checkpoint import GRANDQC_ARTIFACTS, resolve_checkpoint

    _check_name(name)
    path = resolve_checkpoint(GRANDQC_ARTIFACTS, checkpoint)
    return artifacts_provenance(path, file_sha256(path))


def build_artifacts_handler(
    name: str, device: str = "cpu", checkpoint: Path | None = None
) -> ArtifactsHandler:
    from atlaspatch.api.hosting.devices import resolve_device
    from atlaspatch.segmenter_service.checkpoint import GRANDQC_ARTIFACTS, resolve_checkpoint

    _check_name(name)
    path = resolve_checkpoint(GRANDQC_ARTIFACTS, checkpoint)
    return ArtifactsHandler(GrandQCArtifacts(path, resolve_device(device)))


def _check_name(name: str) -> None:
    if name not in ARTIFACT_MODELS:
        raise NotFound(f"unknown artifact model {shown(name)}; choose {', '.join(ARTIFACT_MODELS)}")
