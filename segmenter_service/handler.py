"""The segmenter service's logic, free of gRPC: check the request, run the model, check
its masks. The servicer and the in-process adapter both call it, so both paths check alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from atlaspatch.api.errors import InvalidInput, shown
from atlaspatch.segmenter_service.backend import SegmenterBackend, UnknownModel, create_segmenter


class SegmenterHandler:
    def __init__(self, backend: SegmenterBackend, max_thumbnails: int | None = None):
        self.backend = backend
        self._max_thumbnails = max_thumbnails

    @property
    def model(self) -> str:
        return self.backend.name

    def segment(self, model: str, thumbnails: list[np.ndarray]) -> list[np.ndarray]:
        """Bool tissue masks, one per RGB uint8 thumbnail, in order; `model` "" is the
        hosted one."""
        if model and model != self.model:
            raise UnknownModel(f"this service hosts {self.model!r}, not {shown(model)}")
        if not thumbnails:
            raise InvalidInput("no thumbnails")
        if self._max_thumbnails is not None and len(thumbnails) > self._max_thumbnails:
            raise InvalidInput(f"{len(thumbnails)} thumbnails; at most {self._max_thumbnails}")
        for thumbnail in thumbnails:
            if thumbnail.dtype != np.uint8 or thumbnail.ndim != 3 or thumbnail.shape[2] != 3:
                raise InvalidInput(f"a thumbnail must be (h, w, 3) uint8, not {thumbnail.shape}")
            if 0 in thumbnail.shape:
                raise InvalidInput(f"an empty thumbnail {thumbnail.shape}")
        masks = self.backend.segment(thumbnails)
        for thumbnail, mask in zip(thumbnails, masks, strict=True):
            if mask.shape != thumbnail.shape[:2]:
                raise RuntimeError(
                    f"segmenter returned a {mask.shape} mask for a {thumbnail.shape[:2]} thumbnail"
                )
        return [mask.astype(bool, copy=False) for mask in masks]

    def provenance(self) -> dict[str, str]:
        """What produces the masks: model name, checkpoint digest, settings."""
        return self.backend.provenance()


def build_segmenter_handler(
    model: str,
    device: str = "cpu",
    checkpoint: Path | None = None,
    triton_url: str | None = None,
    max_thumbnails: int | None = None,
) -> SegmenterHandler:
    """The handler of `model` on `device` (cuda falls back to the CPU), or of that model in
    Triton at `triton_url`."""
    if triton_url:
        from atlaspatch.segmenter_service.triton_forward import TritonSegmenter

        backend: SegmenterBackend = TritonSegmenter(triton_url, model)
    else:
        backend = create_segmenter(model, device, checkpoint)
    return SegmenterHandler(backend, max_thumbnails)
