"""The segmenter as the pipeline sees it: thumbnails in, tissue masks out.

`LocalSegmenter` calls the segmenter service's own handler in this process; `RemoteSegmenter`
(remote.py) calls the service. They differ only by the wire.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from atlaspatch.api.errors import NotFound
from atlaspatch.api.names import TISSUE_MODELS
from atlaspatch.client.in_process import require_libraries, service_libraries

if TYPE_CHECKING:
    from atlaspatch.segmenter_service.handler import SegmenterHandler


class SegmenterClient(Protocol):
    def segment(self, thumbnails: list[np.ndarray]) -> list[np.ndarray]: ...

    def provenance(self) -> dict[str, str]: ...


class LocalSegmenter:
    """The segmenter service's handler in this process, built when it first segments (a
    rerun over finished slides builds nothing); its provenance is known before."""

    def __init__(self, model: str, device: str, checkpoint: Path | None = None):
        self._model, self._device, self._checkpoint = model, device, checkpoint
        self._handler: SegmenterHandler | None = None
        self._failed: Exception | None = None
        self._lock = threading.Lock()

    def segment(self, thumbnails: list[np.ndarray]) -> list[np.ndarray]:
        handler = self._built()
        return handler.segment(handler.model, thumbnails)

    def provenance(self) -> dict[str, str]:
        if self._handler is not None:
            return self._handler.provenance()
        with service_libraries("Tissue models", "--segmenter-url"):
            from atlaspatch.segmenter_service.backend import segmenter_provenance

            return segmenter_provenance(self._model, self._checkpoint)

    def _built(self) -> SegmenterHandler:
        with self._lock:
            if self._failed is not None:  # once: every later batch fails the same way
                raise self._failed
            if self._handler is None:
                try:
                    with service_libraries("Tissue models", "--segmenter-url"):
                        from atlaspatch.segmenter_service.handler import build_segmenter_handler

                        self._handler = build_segmenter_handler(
                            self._model, self._device, self._checkpoint
                        )
                except Exception as exc:
                    self._failed = exc
                    raise
            return self._handler


def local_segmenter(model: str, device: str, checkpoint: Path | None = None) -> LocalSegmenter:
    """`model` in this process on `device`; unknown names are refused here."""
    if model not in TISSUE_MODELS:
        raise NotFound(f"unknown tissue model {model!r}; choose one of {', '.join(TISSUE_MODELS)}")
    libraries = {"sam2": ("torch", "sam2"), "grandqc": ("torch", "segmentation_models_pytorch")}
    require_libraries("Tissue models", "--segmenter-url", libraries.get(model, ()))
    return LocalSegmenter(model, device, checkpoint)
