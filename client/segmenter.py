"""The segmenter as the pipeline sees it: thumbnails in, tissue masks out.

`InProcessSegmenter` calls a backend directly; a remote client over gRPC will satisfy the
same protocol, so the pipeline never knows which one it has.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from segmenter_service.backend import SegmenterBackend


class SegmenterClient(Protocol):
    def segment(self, thumbnails: list[np.ndarray]) -> list[np.ndarray]: ...

    def provenance(self) -> dict[str, str]: ...


class InProcessSegmenter:
    def __init__(self, backend: SegmenterBackend):
        self._backend = backend

    def segment(self, thumbnails: list[np.ndarray]) -> list[np.ndarray]:
        masks = self._backend.segment(thumbnails)
        for thumbnail, mask in zip(thumbnails, masks, strict=True):
            if mask.shape != thumbnail.shape[:2]:
                raise RuntimeError(
                    f"segmenter returned a {mask.shape} mask for a {thumbnail.shape[:2]} thumbnail"
                )
        return [m.astype(bool) for m in masks]

    def provenance(self) -> dict[str, str]:
        return self._backend.provenance()
