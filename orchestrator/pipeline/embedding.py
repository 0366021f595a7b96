"""The pass over a slide's patches: each patch read once, batched as uint8, embedded by every
requested encoder, and the rows handed on in order as they come."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future

import numpy as np
from tqdm import tqdm

from client.encoder import EncoderClient
from orchestrator.coordinates.geometry import PatchGeometry
from orchestrator.slides.patches import PatchReader
from orchestrator.slides.slide import SlideSource

# Rows `first`, `first + 1`, ... of every encoder, by name.
RowSink = Callable[[int, dict[str, np.ndarray]], None]


def embed_patches(
    source: SlideSource,
    geometry: PatchGeometry,
    xy: np.ndarray,
    encoders: EncoderClient,
    write: RowSink,
    batch_size: int,
    workers: int,
    show_progress: bool = False,
    first_row: int = 0,
) -> None:
    """Read the patches at `xy` in parallel, two batches ahead, while earlier batches are
    embedded (`encoders.in_flight` of them at once for a remote service); `write` gets the
    rows in order, numbered from `first_row`."""
    size = geometry.patch_size
    batch = np.empty((batch_size, size, size, 3), dtype=np.uint8)
    filled, start = 0, first_row
    pending: deque[tuple[int, int, Future]] = deque()
    progress = tqdm(
        total=len(xy), unit="patch", desc=source.stem, leave=False, disable=not show_progress
    )

    def collect() -> None:
        first, count, future = pending.popleft()
        write(first, future.result())
        progress.update(count)

    def send(first: int, count: int) -> None:
        pending.append((first, count, encoders.submit(batch[:count])))
        while len(pending) >= encoders.in_flight:
            collect()

    with PatchReader(source, geometry, workers) as reader, progress:
        for patch in reader.read_many(xy, ahead=2 * batch_size):
            batch[filled] = patch
            filled += 1
            if filled == batch_size:
                send(start, filled)
                start, filled = start + filled, 0
        if filled:
            send(start, filled)
        while pending:
            collect()
