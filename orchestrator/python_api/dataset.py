"""A map-style dataset over `process` outputs for training code: item i is one patch of one
slide, with its image read from the slide by its coordinates (the pipeline's own read), its
features and its tissue fraction. A torch `Dataset` where torch is installed, and usable by a
`DataLoader` with workers: each worker opens its own slide and HDF5 handles."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from atlaspatch.orchestrator.slides.discovery import discover_slides
from atlaspatch.orchestrator.slides.patches import read_patch
from atlaspatch.orchestrator.slides.slide import SlideReader, open_slide

try:
    from torch.utils.data import Dataset as _Base
except ModuleNotFoundError:  # the client alone: any object with __getitem__ and __len__ will do
    _Base = object  # type: ignore[assignment,misc]


@dataclass(frozen=True)
class _SlideRows:
    h5_path: Path
    slide_path: Path | None  # None: images not asked for
    coords: np.ndarray  # int64 (N, 5): x, y, read_w, read_h, level
    tissue_fraction: np.ndarray  # float32 (N,)
    patch_size: int


class PatchDataset(_Base):  # type: ignore[misc,valid-type]
    def __init__(
        self,
        h5_paths: str | Path | Sequence[str | Path],
        features: Sequence[str] = (),
        images: bool = True,
        transform: Callable[[np.ndarray], Any] | None = None,
        slide_root: str | Path | None = None,
    ):
        """The patches of the slide files `h5_paths` (`<output>/patches/<stem>.h5`), in
        order. `features`: the feature sets each item carries; `images`: read each patch
        from its slide (found by the file's `wsi_path`, relative to `slide_root` when the
        run stored it so); `transform`: applied to the RGB uint8 image."""
        paths = [h5_paths] if isinstance(h5_paths, (str, Path)) else list(h5_paths)
        self._features = tuple(features)
        self._transform = transform
        root = Path(slide_root) if slide_root is not None else None
        self._slides = [_slide_rows(Path(p), self._features, images, root) for p in paths]
        self._starts = np.cumsum([0] + [len(s.coords) for s in self._slides])
        # (slide index, "slide" or "h5") -> (the process that opened it, the handle)
        self._opened: dict[tuple[int, str], tuple[int, Any]] = {}

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"patch {index} of {len(self)}")
        index %= len(self)
        which = int(np.searchsorted(self._starts, index, side="right") - 1)
        slide, row = self._slides[which], index - int(self._starts[which])
        x, y, read_w, _, level = (int(v) for v in slide.coords[row])
        item: dict[str, Any] = {
            "slide": slide.h5_path.stem,
            "coords": np.array([x, y], dtype=np.int64),
            "tissue_fraction": np.float32(slide.tissue_fraction[row]),
        }
        if self._features:
            h5 = self._handle(which, "h5")
            item["features"] = {
                name: np.asarray(h5[f"features/{name}"][row], np.float32) for name in self._features
            }
        if slide.slide_path is not None:
            reader = self._handle(which, "slide")
            image = read_patch(reader, x, y, level, read_w, slide.patch_size)
            item["image"] = self._transform(image) if self._transform else image
        return item

    def _handle(self, which: int, kind: str) -> Any:
        """This process's handle of the slide or the HDF5 (a worker forked from the parent
        opens its own)."""
        key = (which, kind)
        pid, handle = self._opened.get(key, (None, None))
        if pid != os.getpid():
            slide = self._slides[which]
            if kind == "slide":
                assert slide.slide_path is not None
                handle = _open_reader(slide.slide_path)
            else:
                handle = h5py.File(slide.h5_path, "r")
            self._opened[key] = (os.getpid(), handle)
        return handle

    def __getstate__(self) -> dict[str, Any]:  # handles stay with the process that opened them
        return {**self.__dict__, "_opened": {}}


def _slide_rows(
    path: Path, features: tuple[str, ...], images: bool, root: Path | None
) -> _SlideRows:
    with h5py.File(path, "r") as h5:
        if "coords" not in h5:
            raise ValueError(f"{path} has no coords: not a slide file of `process`")
        missing = [name for name in features if f"features/{name}" not in h5]
        if missing:
            raise ValueError(f"{path} lacks features/{', features/'.join(missing)}")
        coords = np.asarray(h5["coords"][...], np.int64)
        fraction = h5["tissue_fraction"][...] if "tissue_fraction" in h5 else np.ones(len(coords))
        patch_size = int(h5.attrs["patch_size"])
        stored = str(h5.attrs.get("wsi_path", ""))
    slide_path = None
    if images:
        slide_path = (root / stored) if root is not None else Path(stored)
        if not stored or not slide_path.exists():
            raise ValueError(
                f"{path}: its slide {slide_path} is not there (give slide_root= where the "
                "run stored paths relative to one, or images=False)"
            )
    return _SlideRows(path, slide_path, coords, np.asarray(fraction, np.float32), patch_size)


def _open_reader(path: Path) -> SlideReader:
    (source,) = discover_slides(path)
    return open_slide(source)
