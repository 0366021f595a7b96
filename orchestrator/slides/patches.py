"""Reading patches in parallel: one slide handle per reader thread, results in grid order."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice

import cv2
import numpy as np

from atlaspatch.orchestrator.coordinates.geometry import PatchGeometry
from atlaspatch.orchestrator.slides.slide import SlideReader, SlideSource, open_slide


def read_patch(
    reader: SlideReader, x: int, y: int, level: int, read_size: int, patch_size: int
) -> np.ndarray:
    """The patch of `read_size` pixels of `level` at level-0 top-left (x, y), resized to
    `patch_size`: RGB uint8 (patch_size, patch_size, 3)."""
    pixels = reader.read_region((x, y), level, (read_size, read_size))
    if read_size != patch_size:
        pixels = cv2.resize(pixels, (patch_size, patch_size), interpolation=cv2.INTER_LINEAR)
    return pixels


class PatchReader:
    """Reads patches of one slide with `workers` threads, each with its own handle."""

    def __init__(self, source: SlideSource, geometry: PatchGeometry, workers: int):
        self._source = source
        self._geometry = geometry
        self._workers = max(1, workers)
        self._local = threading.local()
        self._handles: list[SlideReader] = []
        self._lock = threading.Lock()

    def read(self, x: int, y: int) -> np.ndarray:
        """RGB uint8 (patch_size, patch_size, 3) at level-0 top-left (x, y)."""
        g = self._geometry
        return read_patch(self._handle(), x, y, g.level, g.read_size, g.patch_size)

    def read_many(self, xy: np.ndarray, ahead: int = 0) -> Iterator[np.ndarray]:
        """Patches for each row of `xy`, in order, with at most `ahead` (default 8 per
        worker) read ahead of the consumer."""
        ahead = max(ahead, 8 * self._workers)
        rows = iter(xy)
        with ThreadPoolExecutor(self._workers, thread_name_prefix="patch-reader") as pool:
            queue = deque(pool.submit(self.read, int(x), int(y)) for x, y in islice(rows, ahead))
            while queue:
                patch = queue.popleft().result()
                following = next(rows, None)
                if following is not None:
                    queue.append(pool.submit(self.read, int(following[0]), int(following[1])))
                yield patch

    def close(self) -> None:
        with self._lock:
            for handle in self._handles:
                handle.close()
            self._handles.clear()

    def __enter__(self) -> PatchReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _handle(self) -> SlideReader:
        handle = getattr(self._local, "handle", None)
        if handle is None:
            handle = open_slide(self._source)
            self._local.handle = handle
            with self._lock:
                self._handles.append(handle)
        return handle
