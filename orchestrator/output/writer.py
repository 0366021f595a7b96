"""The per-slide HDF5 file: written under a temporary name, renamed only when complete.

Layout (compatible with AtlasPatch's): `coords` int32 (N, 5) `[x, y, read_w, read_h, level]`
with x, y in level-0 pixels, the reference's file attributes, and beyond it a
`tissue_fraction` float32 (N,) dataset and provenance attributes.
"""

from __future__ import annotations

import json
import os
import uuid
import zlib
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from atlaspatch.orchestrator.output.space import check_room, claim, hand_back_unused

COORD_COLUMNS = ("x", "y", "read_w", "read_h", "level")


def partial_path(final: Path) -> Path:
    """A private temporary name: this process's alone, removed on any failure."""
    return final.with_name(f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.partial")


def resumable_path(final: Path) -> Path:
    """The temporary name a later run can find and finish (the slide's lock keeps it to
    one writer at a time)."""
    return final.with_name(f".{final.name}.partial")


COORDS_COMPLETE = "coords_complete"
COORDS_CRC32 = "coords_crc32"  # of the int32 coords, so that a resumed run can trust them


def coords_crc32(coords: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(coords, dtype=np.int32).data)


def coords_intact(path: Path) -> bool:
    """Whether the file's coords match the checksum written with them."""
    with h5py.File(path, "r") as h5:
        return "coords" in h5 and h5.attrs.get(COORDS_CRC32) == coords_crc32(h5["coords"][...])


class CoordsWriter:
    """Buffers rows `write_batch` at a time into resizable, chunked datasets."""

    def __init__(
        self,
        final: Path,
        attrs: dict[str, Any],
        write_batch: int = 8192,
        resumable: bool = False,
        size: int = 0,
    ):
        """`resumable`: once `coords_done` is called, a failure or a kill leaves the file
        under `resumable_path` for the next run to finish, instead of removing it. `size`:
        the bytes the whole file will take, claimed on disk before anything is written."""
        self.final = final
        self.temporary = resumable_path(final) if resumable else partial_path(final)
        self._resumable = resumable
        final.parent.mkdir(parents=True, exist_ok=True)
        check_room(final.parent, final.name, size)
        self._write_batch = max(1, write_batch)
        self._rows: list[np.ndarray] = []
        self._fractions: list[np.ndarray] = []
        self._buffered = 0
        self._count = 0
        self._file = h5py.File(self.temporary, "w")
        try:
            claim(self.temporary, size)
        except Exception:
            self.abort()
            raise
        chunk = min(self._write_batch, 4096)
        self._coords = self._file.create_dataset(
            "coords", shape=(0, 5), maxshape=(None, 5), dtype="int32", chunks=(chunk, 5)
        )
        self._coords.attrs["columns"] = json.dumps(COORD_COLUMNS)
        self._tissue = self._file.create_dataset(
            "tissue_fraction", shape=(0,), maxshape=(None,), dtype="float32", chunks=(chunk,)
        )
        for key, value in attrs.items():
            self._file.attrs[key] = _attr_value(value)

    def append(self, rows: np.ndarray, tissue_fraction: np.ndarray) -> None:
        if len(rows) == 0:
            return
        self._rows.append(np.asarray(rows, dtype=np.int32).reshape(-1, 5))
        self._fractions.append(np.asarray(tissue_fraction, dtype=np.float32).reshape(-1))
        self._buffered += len(rows)
        if self._buffered >= self._write_batch:
            self._flush()

    @property
    def file(self) -> h5py.File:
        return self._file

    def coords_done(self) -> None:
        self._flush()
        self._file.attrs["num_patches"] = self._count
        self._file.attrs[COORDS_CRC32] = coords_crc32(self._coords[...])
        self._file.attrs[COORDS_COMPLETE] = True
        self._file.flush()

    def commit(self) -> Path:
        self._flush()
        self._file.attrs["num_patches"] = self._count
        self._file.close()
        hand_back_unused(self.temporary)
        os.replace(self.temporary, self.final)
        return self.final

    def abort(self) -> None:
        if self._file.id.valid:
            self._file.close()
        self.temporary.unlink(missing_ok=True)

    def __enter__(self) -> CoordsWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            return
        if self._resumable and self._file.id.valid and self._file.attrs.get(COORDS_COMPLETE):
            self._file.close()  # kept for the next run to resume
            hand_back_unused(self.temporary)
        else:
            self.abort()

    def _flush(self) -> None:
        if not self._rows:
            return
        rows = np.concatenate(self._rows)
        fractions = np.concatenate(self._fractions)
        start, stop = self._count, self._count + len(rows)
        self._coords.resize((stop, 5))
        self._coords[start:stop] = rows
        self._tissue.resize((stop,))
        self._tissue[start:stop] = fractions
        self._count = stop
        self._rows, self._fractions, self._buffered = [], [], 0


def _attr_value(value: Any) -> Any:
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, default=str)
    if value is None:
        return "None"
    return value
