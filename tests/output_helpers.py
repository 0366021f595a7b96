"""Reading what a run left in its output folder: its reports, any unfinished files, and
whether its HDF5 is the in-process run's."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np


def reports(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / "reports").glob("*.json"))]


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if ".partial" in p.name]


def slide_h5(folder: Path) -> Path:
    """The HDF5 a run wrote for the synthetic slide under `folder`."""
    return folder / "patches" / "synthetic-40x.h5"


def assert_same_result(run_h5: Path, reference_h5: Path) -> None:
    """Coordinates identical, features within float error of the in-process run."""
    assert run_h5.is_file(), f"no {run_h5}"
    with h5py.File(run_h5) as got, h5py.File(reference_h5) as want:
        assert len(want["coords"]) > 0
        np.testing.assert_array_equal(got["coords"][:], want["coords"][:])
        a = got["features/efficientnet_lite0"][:].astype(np.float64)
        b = want["features/efficientnet_lite0"][:].astype(np.float64)
    assert a.shape == b.shape
    cosine = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert cosine.min() >= 0.9999, f"lowest cosine {cosine.min()}"
