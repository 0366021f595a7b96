"""Writing an exported file whole or not at all."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h5py
import numpy as np


@contextmanager
def written_whole(path: Path) -> Iterator[Path]:
    """A temporary path beside `path`, renamed to it when the block ends without error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


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
