"""The HDF5 writer never leaves a half-written file under the final name."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from atlaspatch.orchestrator.output.writer import CoordsWriter


def rows(n: int, start: int = 0) -> np.ndarray:
    index = np.arange(start, start + n)
    return np.column_stack([index, index * 2, np.full(n, 256), np.full(n, 256), np.zeros(n)])


def test_rows_arrive_in_order_across_flushes(tmp_path: Path) -> None:
    final = tmp_path / "s.h5"
    writer = CoordsWriter(final, {"patch_size": 256}, write_batch=5)
    for start in range(0, 23, 4):
        writer.append(rows(min(4, 23 - start), start), np.full(min(4, 23 - start), 0.5))
        assert not final.exists()
    writer.commit()
    with h5py.File(final) as f:
        assert np.array_equal(f["coords"][...], rows(23))
        assert f.attrs["num_patches"] == 23 and f.attrs["patch_size"] == 256
    assert list(tmp_path.iterdir()) == [final]


def test_failure_leaves_nothing(tmp_path: Path) -> None:
    final = tmp_path / "s.h5"
    with pytest.raises(RuntimeError), CoordsWriter(final, {}, write_batch=2) as writer:
        writer.append(rows(5), np.ones(5))
        raise RuntimeError("reader died")
    assert list(tmp_path.iterdir()) == []


def test_commit_replaces_an_older_file(tmp_path: Path) -> None:
    final = tmp_path / "s.h5"
    final.write_bytes(b"old")
    writer = CoordsWriter(final, {}, write_batch=10)
    writer.append(rows(3), np.ones(3))
    writer.commit()
    with h5py.File(final) as f:
        assert len(f["coords"]) == 3
