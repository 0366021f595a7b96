"""The `features/<name>` datasets of a slide's HDF5: (N, D) float32, row-aligned with
`coords`, the encoder's facts as attributes, and how many rows are written (where an
interrupted run resumes).

Each batch written is recorded in `feature_checksums/<name>` as (first row, end row, CRC-32
of its float32 bytes): a run that resumes a leftover keeps only the rows that still match
what was written, and computes the rest again.
"""

from __future__ import annotations

import logging
import zlib

import h5py
import numpy as np

from atlaspatch.api.encoder_facts import EncoderFacts

FEATURES_GROUP = "features"
CHECKSUMS_GROUP = "feature_checksums"
ROWS_DONE = "rows_done"
# Slide embeddings, each made from one feature set (named in its attributes): replacing the
# feature set drops them, as they no longer describe its rows.
SLIDE_FEATURES = "slide_features"
SOURCE_PATCH_ENCODER = "source_patch_encoder"

log = logging.getLogger(__name__)


def slide_embeddings_of(h5: h5py.File, patch_encoder: str) -> list[str]:
    """The names of the slide embeddings made from `features/<patch_encoder>`."""
    group = h5.get(SLIDE_FEATURES, {})
    return [
        name
        for name in group
        if _text(group[name].attrs.get(SOURCE_PATCH_ENCODER)) == patch_encoder
    ]


def _text(value: object) -> str | None:
    return value.decode() if isinstance(value, bytes) else value if isinstance(value, str) else None


def crc32(array: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(array).data)


class FeatureSets:
    def __init__(self, h5: h5py.File, datasets: dict[str, h5py.Dataset]):
        self._h5 = h5
        self._datasets = datasets
        checksums = h5.require_group(CHECKSUMS_GROUP)
        self._checksums = {name: _checksum_log(checksums, name) for name in datasets}

    @classmethod
    def create(cls, h5: h5py.File, descriptions: dict[str, EncoderFacts], rows: int) -> FeatureSets:
        """New, empty feature sets (replacing any of the same name), one per encoder."""
        group = h5.require_group(FEATURES_GROUP)
        checksums = h5.require_group(CHECKSUMS_GROUP)
        datasets = {}
        for name, facts in descriptions.items():
            if name in group:
                for embedding in slide_embeddings_of(h5, name):
                    del h5[SLIDE_FEATURES][embedding]
            for old in (group, checksums):
                if name in old:
                    del old[name]
            dim = facts.embedding_dim
            dataset = group.create_dataset(
                name, shape=(rows, dim), dtype="float32", chunks=(max(1, min(rows, 256)), dim)
            )
            dataset.attrs[ROWS_DONE] = 0
            dataset.attrs.update(facts.attributes())
            datasets[name] = dataset
        return cls(h5, datasets)

    @classmethod
    def open(cls, h5: h5py.File, names: list[str]) -> FeatureSets:
        """The feature sets an interrupted run left, to be finished from their first row
        that is not as it was written."""
        sets = cls(h5, {name: h5[FEATURES_GROUP][name] for name in names})
        for name in names:
            sets._keep_verified(name)
        return sets

    @property
    def rows_done(self) -> int:
        """The first row any of the sets lacks."""
        return min(int(d.attrs.get(ROWS_DONE, 0)) for d in self._datasets.values())

    def bytes_to_write(self) -> int:
        """What the rows still to come will take on disk."""
        start = self.rows_done
        return sum(4 * (d.shape[0] - start) * d.shape[1] for d in self._datasets.values())

    def write(self, first: int, rows: dict[str, np.ndarray]) -> None:
        """Rows `first`, `first + 1`, ... of every set; each call reaches the disk, so a run
        killed after it resumes after it."""
        for name, matrix in rows.items():
            stop = first + len(matrix)
            self._datasets[name][first:stop] = matrix
            checksums = self._checksums[name]
            checksums.resize((len(checksums) + 1, 3))
            checksums[-1] = (first, stop, crc32(np.asarray(matrix, dtype=np.float32)))
            self._datasets[name].attrs[ROWS_DONE] = stop
        self._h5.flush()

    def _keep_verified(self, name: str) -> None:
        """Roll `name` back to the end of its last batch that matches its checksum."""
        dataset, checksums = self._datasets[name], self._checksums[name]
        done = int(dataset.attrs.get(ROWS_DONE, 0))
        verified, kept = 0, 0
        for first, stop, expected in checksums[...]:
            if first != verified or stop > done or crc32(dataset[first:stop]) != expected:
                break
            verified, kept = int(stop), kept + 1
        if verified < done:
            log.warning(
                "%s: features/%s rows %d to %d are not as they were written: computed again",
                self._h5.filename, name, verified, done - 1,
            )  # fmt: skip
        checksums.resize((kept, 3))
        dataset.attrs[ROWS_DONE] = verified


def _checksum_log(group: h5py.Group, name: str) -> h5py.Dataset:
    if name in group:
        return group[name]
    return group.create_dataset(
        name, shape=(0, 3), maxshape=(None, 3), dtype="int64", chunks=(256, 3)
    )


def complete_feature_sets(h5: h5py.File) -> dict[str, int]:
    """The feature sets that hold a row for every patch of `coords`, all written (a set from
    AtlasPatch has no ROWS_DONE: its row count decides), by name, with their dimension."""
    rows = len(h5["coords"])
    complete = {}
    for name, dataset in h5.get(FEATURES_GROUP, {}).items():
        done = int(dataset.attrs.get(ROWS_DONE, dataset.shape[0]))
        if dataset.ndim == 2 and dataset.shape[0] == rows and done >= rows:
            complete[name] = int(dataset.shape[1])
    return complete


def stored_feature_facts(h5: h5py.File, keys: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """The feature sets a file holds, each with the attributes named by `keys`."""
    group = h5.get(FEATURES_GROUP, {})
    return {name: {key: str(group[name].attrs.get(key, "")) for key in keys} for name in group}
