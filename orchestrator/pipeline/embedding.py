"""The pass over a slide's patches: each patch read once, batched, embedded by every requested
encoder, and the rows handed on in order as they come.

A service that takes tiles gets the slide's own JPEG tiles where the patches lie on a
tiled-JPEG level's pixel grid (it decodes them); otherwise patches are decoded here, in
parallel, and travel as uint8 pixels.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future

import numpy as np

from atlaspatch.client.encoder import EncoderClient
from atlaspatch.orchestrator.coordinates.geometry import PatchGeometry
from atlaspatch.orchestrator.pipeline.interrupt import stop_point
from atlaspatch.orchestrator.progress import progress as progress_bar
from atlaspatch.orchestrator.slides.patches import PatchReader
from atlaspatch.orchestrator.slides.slide import SlideSource
from atlaspatch.orchestrator.slides.tile_batches import TileBatches

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
    """Embed the patches at `xy` while later ones are read (`encoders.in_flight` batches
    at once for a remote service); `write` gets the rows in order, numbered from
    `first_row`."""
    pending: deque[tuple[int, int, Future]] = deque()
    progress = progress_bar(len(xy), "patch", source.stem, disable=not show_progress)

    def collect() -> None:
        first, count, future = pending.popleft()
        write(first, future.result())
        progress.update(count)
        stop_point()  # rows written so far stay: a rerun resumes after them

    tiles = TileBatches.open(source, geometry, xy) if encoders.accepts_tiles else None
    # Batches of raw pixels are megabytes each: fewer of them wait at once.
    in_flight = encoders.in_flight if tiles is not None else min(encoders.in_flight, 4)
    with progress:
        start = first_row
        batches = (
            tiles.batches(xy, batch_size)
            if tiles is not None
            else _pixel_batches(source, geometry, xy, batch_size, workers)
        )
        try:
            for batch in batches:
                pending.append((start, len(batch), encoders.submit(batch)))
                start += len(batch)
                while len(pending) >= in_flight:
                    collect()
            while pending:
                collect()
        finally:
            if tiles is not None:
                tiles.close()


def _pixel_batches(
    source: SlideSource, geometry: PatchGeometry, xy: np.ndarray, batch_size: int, workers: int
) -> Iterator[np.ndarray]:
    """Batches of decoded patches, read in parallel two batches ahead. Each batch is a view
    of one buffer that the next batch overwrites: `submit` must be done with it first."""
    size = geometry.patch_size
    batch = np.empty((batch_size, size, size, 3), dtype=np.uint8)
    filled = 0
    with PatchReader(source, geometry, workers) as reader:
        for patch in reader.read_many(xy, ahead=2 * batch_size):
            batch[filled] = patch
            filled += 1
            if filled == batch_size:
                yield batch
                filled = 0
        if filled:
            yield batch[:filled]
