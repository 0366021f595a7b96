"""Writing an exported file whole or not at all (output.atomic)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from atlaspatch.orchestrator.output.atomic import written_whole


def write_h5(path: Path, datasets: dict[str, tuple[np.ndarray, dict[str, Any]]]) -> None:
    """An HDF5 file of `datasets`, each (array, its attributes)."""
    with written_whole(path) as temporary, h5py.File(temporary, "w") as h5:
        for name, (array, attrs) in datasets.items():
            dataset = h5.create_dataset(name, data=array)
            for key, value in attrs.items():
                dataset.attrs[key] = value


def write_with(path: Path, save: Callable[[Path], None]) -> None:
    with written_whole(path) as temporary:
        save(temporary)
