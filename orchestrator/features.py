"""The pass over a slide's patches: each patch read once, batched as uint8, embedded by every
requested encoder, and the rows written into `features/<name>` as they come."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import h5py
import numpy as np
from tqdm import tqdm

from client.encoder import EncoderClient
from orchestrator.geometry import PatchGeometry
from orchestrator.patches import PatchReader
from orchestrator.slide import SlideSource

FEATURES_GROUP = "features"
# Rows of a feature set already written: where an interrupted run resumes.
ROWS_DONE = "rows_done"


@dataclass(frozen=True)
class FeaturePass:
    """One pass over a slide's patches: where they are, who embeds them, how."""

    source: SlideSource
    geometry: PatchGeometry
    xy: np.ndarray
    encoders: EncoderClient
    batch_size: int
    workers: int
    show_progress: bool = False


def embed_into(h5: h5py.File, work: FeaturePass) -> list[str]:
    """Write `features/<name>` (N, D) float32 for every encoder; returns the names written."""
    descriptions = work.encoders.describe()
    group = h5.require_group(FEATURES_GROUP)
    datasets = {}
    rows = len(work.xy)
    for name, facts in descriptions.items():
        if name in group:
            del group[name]
        dim = int(facts["embedding_dim"])
        datasets[name] = group.create_dataset(
            name, shape=(rows, dim), dtype="float32", chunks=(max(1, min(rows, 256)), dim)
        )
        datasets[name].attrs[ROWS_DONE] = 0
        for key, value in facts.items():
            datasets[name].attrs[key] = (
                value if isinstance(value, (str, int, float)) else json.dumps(value)
            )
    _fill(h5, datasets, work, 0)
    return list(descriptions)


def continue_features(h5: h5py.File, work: FeaturePass) -> int:
    """Finish the feature sets an interrupted run left in `h5`, from the first row any of
    them lacks; returns that row."""
    datasets = {name: h5[FEATURES_GROUP][name] for name in work.encoders.describe()}
    start = min(int(dataset.attrs.get(ROWS_DONE, 0)) for dataset in datasets.values())
    _fill(h5, datasets, work, start)
    return start


def _fill(h5: h5py.File, datasets: dict[str, h5py.Dataset], work: FeaturePass, start: int) -> None:
    def write(first: int, rows: dict[str, np.ndarray]) -> None:
        stop = start + first + len(next(iter(rows.values())))
        for name, matrix in rows.items():
            datasets[name][start + first : stop] = matrix
            datasets[name].attrs[ROWS_DONE] = stop
        # Each batch reaches the disk: a run killed now resumes after it.
        h5.flush()

    # Batches start at multiples of batch_size whether resumed or not, so a resumed slide
    # gets exactly the forward passes, and so the numbers, of an uninterrupted run.
    for_each_batch(
        work.source,
        work.geometry,
        work.xy[start:],
        work.encoders,
        write,
        work.batch_size,
        work.workers,
        work.show_progress,
    )


def for_each_batch(
    source: SlideSource,
    geometry: PatchGeometry,
    xy: np.ndarray,
    encoders: EncoderClient,
    write: Callable[[int, dict[str, np.ndarray]], None],
    batch_size: int,
    workers: int,
    show_progress: bool = False,
) -> None:
    """Read patches in parallel, two batches ahead, while earlier batches are embedded
    (`encoders.in_flight` of them at once for a remote service); write results in order."""
    size = geometry.patch_size
    batch = np.empty((batch_size, size, size, 3), dtype=np.uint8)
    filled, start = 0, 0
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
