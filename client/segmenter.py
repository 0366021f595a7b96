"""The segmenter as the pipeline sees it: thumbnails in, tissue masks out.

`LocalSegmenter` calls the segmenter service's own handler in this process; `RemoteSegmenter`
(remote.py) calls the service. They differ only by the wire.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from atlaspatch.client.in_process import service_libraries

if TYPE_CHECKING:
    from atlaspatch.segmenter_service.handler import SegmenterHandler


class SegmenterClient(Protocol):
    def segment(self, thumbnails: list[np.ndarray]) -> list[np.ndarray]: ...

    def provenance(self) -> dict[str, str]: ...


class LocalSegmenter:
    def __init__(self, handler: SegmenterHandler):
        self._handler = handler

    def segment(self, thumbnails: list[np.ndarray]) -> list[np.ndarray]:
        return self._handler.segment(self._handler.model, thumbnails)

    def provenance(self) -> dict[str, str]:
        return self._handler.provenance()


def local_segmenter(model: str, device: str, checkpoint: Path | None = None) -> LocalSegmenter:
    with service_libraries("Tissue models", "--segmenter-url"):
        from atlaspatch.segmenter_service.handler import build_segmenter_handler

        return LocalSegmenter(build_segmenter_handler(model, device, checkpoint))
