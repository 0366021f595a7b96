"""Removing feature sets from a slide's HDF5, as `process --remove-features` asks: the file is
copied without them under a temporary name (so the space they took is given back) and renamed
over the original when complete."""

from __future__ import annotations

import os
from pathlib import Path

import h5py

from atlaspatch.orchestrator.output.feature_sets import CHECKSUMS_GROUP, FEATURES_GROUP
from atlaspatch.orchestrator.output.space import check_room
from atlaspatch.orchestrator.output.writer import partial_path


def remove_feature_sets(path: Path, names: list[str]) -> list[str]:
    """Remove `features/<name>` (and its checksums) for each of `names` the file holds; the
    names removed."""
    if not names or not path.exists():
        return []
    with h5py.File(path, "r") as h5:
        there = [name for name in names if name in h5.get(FEATURES_GROUP, {})]
    if not there:
        return []
    temporary = partial_path(path)
    check_room(path.parent, temporary.name, path.stat().st_size)
    try:
        with h5py.File(path, "r") as source, h5py.File(temporary, "w") as copy:
            _copy_attributes(source, copy)
            for name, item in source.items():
                if name not in (FEATURES_GROUP, CHECKSUMS_GROUP):
                    source.copy(item, copy, name=name)
                    continue
                group = copy.create_group(name)
                _copy_attributes(item, group)
                for child in item:
                    if child not in there:
                        source.copy(item[child], group, name=child)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return there


def _copy_attributes(source: h5py.HLObject, target: h5py.HLObject) -> None:
    for key in source.attrs:
        target.attrs.create(key, source.attrs[key], dtype=source.attrs.get_id(key).dtype)
