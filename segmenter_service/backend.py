"""The interface every segmentation backend satisfies, and the factory that picks one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from atlaspatch.api.errors import NotFound
from atlaspatch.api.names import TISSUE_MODELS

if TYPE_CHECKING:
    import numpy as np


class UnknownModel(NotFound):
    pass


class SegmenterBackend(Protocol):
    name: str

    def segment(self, thumbnails: list[np.ndarray]) -> list[np.ndarray]:
        """Binary tissue masks (bool, same h x w) for RGB uint8 thumbnails, in order."""
        ...

    def provenance(self) -> dict[str, str]:
        """What produced the masks: model name, checkpoint digest, settings."""
        ...


def segmenter_provenance(name: str, checkpoint: Path | None = None) -> dict[str, str]:
    """What `create_segmenter` would make says of itself, without making it (no torch):
    SAM2's and GrandQC's from their checkpoint files, which must be here."""
    if name == "sam2":
        from atlaspatch.api.hosting.model_files import file_sha256
        from atlaspatch.segmenter_service.checkpoint import resolve_sam2_checkpoint
        from atlaspatch.segmenter_service.sam2_backend import sam2_provenance

        path = resolve_sam2_checkpoint(checkpoint)
        return sam2_provenance(path, file_sha256(path))
    if name == "grandqc":
        from atlaspatch.api.hosting.model_files import file_sha256
        from atlaspatch.segmenter_service.checkpoint import GRANDQC_TISSUE, resolve_checkpoint
        from atlaspatch.segmenter_service.grandqc import grandqc_provenance

        path = resolve_checkpoint(GRANDQC_TISSUE, checkpoint)
        return grandqc_provenance(path, file_sha256(path))
    return create_segmenter(name).provenance()  # otsu: nothing to load


def create_segmenter(
    name: str, device: str = "cpu", checkpoint: Path | None = None
) -> SegmenterBackend:
    """The backend `name` on `device` (cuda falls back to the CPU); otsu runs on the CPU
    whatever the device, and so needs no torch to find one."""
    if name == "otsu":
        from atlaspatch.segmenter_service.otsu import OtsuSegmenter

        return OtsuSegmenter()
    if name == "sam2":
        from atlaspatch.api.hosting.devices import resolve_device
        from atlaspatch.segmenter_service.checkpoint import resolve_sam2_checkpoint
        from atlaspatch.segmenter_service.sam2_backend import Sam2Segmenter

        return Sam2Segmenter(resolve_sam2_checkpoint(checkpoint), device=resolve_device(device))
    if name == "grandqc":
        from atlaspatch.api.hosting.devices import resolve_device
        from atlaspatch.segmenter_service.checkpoint import GRANDQC_TISSUE, resolve_checkpoint
        from atlaspatch.segmenter_service.grandqc import GrandQCTissue

        path = resolve_checkpoint(GRANDQC_TISSUE, checkpoint)
        return GrandQCTissue(path, device=resolve_device(device))
    raise UnknownModel(f"unknown tissue model {name!r}; choose one of {', '.join(TISSUE_MODELS)}")
