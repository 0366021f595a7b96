"""The `features/<name>` datasets of a slide's HDF5: (N, D) float32, row-aligned with
`coords`, the encoder's facts as attributes, and how many rows are written (where an
interrupted run resumes)."""

from __future__ import annotations

import json
from typing import Any

import h5py
import numpy as np

FEATURES_GROUP = "features"
ROWS_DONE = "rows_done"


class FeatureSets:
    def __init__(self, h5: h5py.File, datasets: dict[str, h5py.Dataset]):
        self._h5 = h5
        self._datasets = datasets

    @classmethod
    def create(
        cls, h5: h5py.File, descriptions: dict[str, dict[str, Any]], rows: int
    ) -> FeatureSets:
        """New, empty feature sets (replacing any of the same name), one per encoder."""
        group = h5.require_group(FEATURES_GROUP)
        datasets = {}
        for name, facts in descriptions.items():
            if name in group:
                del group[name]
            dim = int(facts["embedding_dim"])
            dataset = group.create_dataset(
                name, shape=(rows, dim), dtype="float32", chunks=(max(1, min(rows, 256)), dim)
            )
            dataset.attrs[ROWS_DONE] = 0
            for key, value in facts.items():
                dataset.attrs[key] = (
                    value if isinstance(value, (str, int, float)) else json.dumps(value)
                )
            datasets[name] = dataset
        return cls(h5, datasets)

    @classmethod
    def open(cls, h5: h5py.File, names: list[str]) -> FeatureSets:
        """The feature sets an interrupted run left, to be finished."""
        return cls(h5, {name: h5[FEATURES_GROUP][name] for name in names})

    @property
    def rows_done(self) -> int:
        """The first row any of the sets lacks."""
        return min(int(d.attrs.get(ROWS_DONE, 0)) for d in self._datasets.values())

    def write(self, first: int, rows: dict[str, np.ndarray]) -> None:
        """Rows `first`, `first + 1`, ... of every set; each call reaches the disk, so a run
        killed after it resumes after it."""
        for name, matrix in rows.items():
            stop = first + len(matrix)
            self._datasets[name][first:stop] = matrix
            self._datasets[name].attrs[ROWS_DONE] = stop
        self._h5.flush()


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
