"""One slide in the Python API: opened with its scale and thumbnail, segmented, its patches
planned and embedded, each step the pipeline's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from atlaspatch.api.cpus import usable_cpus
from atlaspatch.client.encoder import EncoderClient
from atlaspatch.client.segmenter import SegmenterClient
from atlaspatch.orchestrator.coordinates.plan import CoordsPlan, plan_coordinates
from atlaspatch.orchestrator.coordinates.regions import drop_small_regions
from atlaspatch.orchestrator.pipeline.embedding import embed_patches
from atlaspatch.orchestrator.settings import CoordsSettings, RunSettings
from atlaspatch.orchestrator.slides.discovery import discover_slides
from atlaspatch.orchestrator.slides.opened import OpenedSlide, open_with_thumbnail
from atlaspatch.orchestrator.slides.patches import read_patch

# The patches of a slide: `geometry` (level, sizes), `xy` (N, 2) level-0 top-left corners,
# `tissue_fraction` (N,); `rows()` gives them as the HDF5's `coords`.
Patches = CoordsPlan


class Slide:
    def __init__(self, opened: OpenedSlide):
        self._opened = opened

    @property
    def path(self) -> Path:
        return self._opened.source.path

    @property
    def magnification(self) -> float:
        return self._opened.scale.magnification

    @property
    def mpp(self) -> float | None:
        return self._opened.scale.mpp

    @property
    def scale_source(self) -> str:
        """Where the magnification came from (metadata, the mpp given, ...)."""
        return self._opened.scale.source

    @property
    def level0_size(self) -> tuple[int, int]:
        return self._opened.level0_size

    @property
    def thumbnail(self) -> np.ndarray:
        """RGB uint8 at 1.25x: what the segmenter sees."""
        return self._opened.thumbnail.pixels

    def segment(self, segmenter: SegmenterClient, tissue_thresh: float = 0.0) -> np.ndarray:
        """The tissue mask of the thumbnail (bool, its size), regions smaller than
        `tissue_thresh` (a share of the thumbnail) left out, as `--tissue-thresh` does."""
        (mask,) = segmenter.segment([self.thumbnail])
        return drop_small_regions(mask, tissue_thresh)

    def coordinates(
        self,
        mask: np.ndarray,
        patch_size: int,
        target_mag: float,
        workers: int | None = None,
        **options: Any,
    ) -> Patches:
        """The patches `segment-and-get-coords` keeps; `options` are its coordinate options
        by their CLI names (step_size, min_tissue_fraction, fast_mode, edge_patches,
        white_thresh, black_thresh)."""
        settings = CoordsSettings(patch_size, target_mag, **options)
        # Nothing is written: patch images are the CLI's (--save-images).
        run = RunSettings(output=Path("."), patch_workers=workers or usable_cpus())
        return plan_coordinates(self._opened, mask, settings, run)

    def read_patch(self, patches: Patches, index: int) -> np.ndarray:
        """Patch `index` as the encoders get it: RGB uint8 (patch_size, patch_size, 3)."""
        g, (x, y) = patches.geometry, patches.xy[index]
        return read_patch(self._opened.reader, int(x), int(y), g.level, g.read_size, g.patch_size)

    def embed(
        self,
        patches: Patches,
        encoders: EncoderClient,
        batch_size: int = 32,
        workers: int | None = None,
        progress: bool = False,
    ) -> dict[str, np.ndarray]:
        """Every patch embedded by every encoder: {name: (N, dim) float32}, row-aligned
        with `patches.xy`."""
        facts = encoders.describe()
        rows = {
            name: np.empty((len(patches.xy), fact.embedding_dim), np.float32)
            for name, fact in facts.items()
        }

        def write(first: int, block: dict[str, np.ndarray]) -> None:
            for name, matrix in block.items():
                rows[name][first : first + len(matrix)] = matrix

        embed_patches(
            self._opened.source,
            patches.geometry,
            patches.xy,
            encoders,
            write,
            batch_size,
            workers or usable_cpus(),
            progress,
        )
        return rows

    def close(self) -> None:
        self._opened.close()

    def __enter__(self) -> Slide:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_slide(path: str | Path, mpp: float | None = None) -> Slide:
    """The slide at `path` (a file, or a DICOM folder), its magnification from `mpp` when
    given, else from its metadata (an error naming the slide when it has none)."""
    (source,) = discover_slides(Path(path))
    table = {source.path.name: mpp} if mpp is not None else {}
    return Slide(open_with_thumbnail(source, table))
