"""What every slide encoder model offers, and the checks on what it returns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from atlaspatch.api.errors import InvalidInput, NotFound
from atlaspatch.api.slide_features import PatchData
from atlaspatch.encoder_service.slide_encoders.catalog import SlideEncoderFacts


class MissingPackage(NotFound):
    """A Python package a model is built from is not installed."""


class SlideModel(Protocol):
    facts: SlideEncoderFacts  # with its patch encoder filled in
    precision: str  # what it computes in

    def encode_slide(self, slide: PatchData) -> np.ndarray:
        """One float32 vector for a slide, from its patch features."""
        ...


class PatientModel(SlideModel, Protocol):
    def encode_case(self, slides: Sequence[PatchData]) -> np.ndarray:
        """One float32 vector for a patient, from the patch features of all their slides."""
        ...


def as_embedding(output: Any, name: str, dim: int | None = None) -> np.ndarray:
    """A model's output as a 1-D float32 vector (a batch of one is unwrapped), refused when
    it has another dimension or values that are not finite."""
    if hasattr(output, "detach"):  # a torch tensor
        output = output.detach().float().cpu().numpy()
    vector = np.asarray(output, dtype=np.float32)
    if vector.ndim == 2 and vector.shape[0] == 1:
        vector = vector[0]
    if vector.ndim != 1:
        raise InvalidInput(f"{name} returned shape {vector.shape}, not one vector")
    if dim is not None and vector.shape[0] != dim:
        raise InvalidInput(f"{name} returned a {vector.shape[0]}-d vector, not {dim}-d")
    if not np.isfinite(vector).all():
        raise InvalidInput(f"{name} returned values that are not finite (NaN or infinity)")
    return vector
