"""One slide's HDF5 file, `<output>/patches/<stem>.h5`, and its temporaries: the one place
that knows where they are, how they are written, and whether an existing file or a leftover
of a killed run may be used.

Nothing half-written ever stands under the final name: a new file is written under a
temporary name and renamed when complete; features are added on a copy; a `process` run
that dies while embedding leaves `.<stem>.h5.partial` for the next run to finish.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np

from atlaspatch.api.encoder_facts import EncoderFacts
from atlaspatch.orchestrator.coordinates.geometry import PatchGeometry
from atlaspatch.orchestrator.output.attributes import file_attributes
from atlaspatch.orchestrator.output.existing import (
    ExistingOutput,
    Expected,
    feature_mismatch,
    inspect_existing,
    reading_geometry,
)
from atlaspatch.orchestrator.output.feature_sets import FeatureSets
from atlaspatch.orchestrator.output.space import check_room, claim, hand_back_unused, output_bytes
from atlaspatch.orchestrator.output.writer import (
    CoordsWriter,
    coords_intact,
    partial_path,
    resumable_path,
)
from atlaspatch.orchestrator.settings import CoordsSettings, RunSettings
from atlaspatch.orchestrator.slides.opened import OpenedSlide

log = logging.getLogger(__name__)


class SlideFile:
    def __init__(self, patches_dir: Path, stem: str):
        self.path = patches_dir / f"{stem}.h5"
        self.leftover = resumable_path(self.path)
        self._stem = stem

    def exists(self) -> bool:
        return self.path.exists()

    def clear_private_leftovers(self) -> None:
        """Remove the private temporaries of earlier runs (the caller holds the slide's
        lock, so their writers are gone)."""
        for leftover in self.path.parent.glob(f".{self._stem}.h5.*.partial"):
            leftover.unlink(missing_ok=True)

    def inspect(self, expected: Expected) -> ExistingOutput:
        """The existing file: whether its coordinates fit, and the feature sets it holds."""
        return inspect_existing(self.path, expected)

    def features_differ(
        self, existing: ExistingOutput, wanted: dict[str, EncoderFacts]
    ) -> str | None:
        """How the feature sets there differ from the encoders' facts, or None."""
        return feature_mismatch(existing, wanted)

    def leftover_usable(self, expected: Expected, names: list[str]) -> bool:
        """Whether a killed `process` run left a file to finish; one that cannot be trusted
        (unreadable, other parameters or encoders, coordinates incomplete) is removed."""
        if not self.leftover.exists():
            return False
        why = self._leftover_problem(expected, names)
        if why is None:
            return True
        log.warning(
            "%s: starting over, the leftover %s is unusable: %s", self._stem, self.leftover, why
        )
        self.leftover.unlink(missing_ok=True)
        return False

    def drop_leftover(self) -> None:
        self.leftover.unlink(missing_ok=True)

    def create(
        self,
        slide: OpenedSlide,
        geometry: PatchGeometry,
        settings: CoordsSettings,
        run: RunSettings,
        segmenter: dict[str, str],
        resumable: bool,
        size: int = 0,
    ) -> CoordsWriter:
        """A writer of a new file with its attributes; `resumable`: once its coordinates are
        complete, a run that dies leaves it for the next to finish; `size`: the bytes it will
        take (space.output_bytes), claimed before it is written."""
        attrs = file_attributes(slide, geometry, settings, run, segmenter)
        return CoordsWriter(self.path, attrs, settings.write_batch, resumable, size)

    @contextmanager
    def resuming(self, names: list[str]) -> Iterator[tuple[StoredPatches, FeatureSets]]:
        """The leftover's patches and feature sets to finish; renamed into place after."""
        h5 = h5py.File(self.leftover, "r+")
        try:
            features = FeatureSets.open(h5, names)
            claim(self.leftover, features.bytes_to_write())
            yield StoredPatches.read(h5), features
        finally:
            h5.close()
            hand_back_unused(self.leftover)
        os.replace(self.leftover, self.path)

    @contextmanager
    def adding(
        self, descriptions: dict[str, EncoderFacts]
    ) -> Iterator[tuple[StoredPatches, FeatureSets]]:
        """New feature sets for the existing file's patches, written on a copy that is renamed
        over it when complete."""
        temporary = partial_path(self.path)
        dims = [facts.embedding_dim for facts in descriptions.values()]
        with h5py.File(self.path, "r") as h5:
            size = output_bytes(len(h5["coords"]), dims) - output_bytes(len(h5["coords"]), [])
        check_room(self.path.parent, temporary.name, self.path.stat().st_size + size)
        shutil.copyfile(self.path, temporary)
        try:
            with h5py.File(temporary, "r+") as h5:
                claim(temporary, size)
                patches = StoredPatches.read(h5)
                yield patches, FeatureSets.create(h5, descriptions, len(patches.xy))
            hand_back_unused(temporary)
            os.replace(temporary, self.path)
        finally:
            temporary.unlink(missing_ok=True)

    def _leftover_problem(self, expected: Expected, names: list[str]) -> str | None:
        existing = inspect_existing(self.leftover, expected)
        if existing.mismatch:
            return existing.mismatch
        if not existing.coords_complete:
            return "its coordinates are incomplete"
        if not coords_intact(self.leftover):  # read only here: a leftover is rare
            return "its coordinates are not as they were written"
        present = sorted(existing.encoders)
        if present != sorted(names):
            return f"it holds features {present}, this run asks for {sorted(names)}"
        return None


class StoredPatches:
    """The patches a file holds: where they are and how to read them again."""

    def __init__(self, xy: np.ndarray, geometry: PatchGeometry):
        self.xy = xy
        self.geometry = geometry

    @classmethod
    def read(cls, h5: h5py.File) -> StoredPatches:
        coords = h5["coords"][...]
        return cls(coords[:, :2], reading_geometry(h5, coords))
