"""The slide and patient encoders of one run, each loaded (here or on its service) once, when
a slide first needs it; one that cannot be loaded fails every slide that needs it with the
same reason, without trying again."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from atlaspatch.api.errors import ServiceError
from atlaspatch.client.patch_features import read_patch_data
from atlaspatch.client.slide_encoders import SlideEncoderClient, SlideEncoderFacts, as_embedding
from atlaspatch.orchestrator.slides.errors import SlideError


class ModelShelf:
    def __init__(self, encoders: SlideEncoderClient):
        self._encoders = encoders
        self._loaded: set[str] = set()
        self._errors: dict[str, BaseException] = {}

    def embed(
        self, facts: SlideEncoderFacts, patch_files: list[Path], dim: int, patient: bool = False
    ) -> np.ndarray:
        """The `dim`-d embedding of one slide, or (`patient`) of a patient's slides, from
        the features `facts` reads in their patch files."""
        self._load(facts, patient)
        assert facts.patch_encoder is not None
        slides = [read_patch_data(path, facts.patch_encoder) for path in patch_files]
        return as_embedding(self._encoders.encode(facts, slides, patient), facts.name, dim)

    def _load(self, facts: SlideEncoderFacts, patient: bool) -> None:
        if facts.name in self._errors:
            raise self._errors[facts.name]
        if facts.name not in self._loaded:
            try:
                self._encoders.load(facts, patient)
            except Exception as exc:
                self._errors[facts.name] = exc
                raise
            self._loaded.add(facts.name)


def reason(exc: BaseException) -> str:
    """An error as a person reads it: the message of errors meant for people, else its type
    too."""
    if isinstance(exc, (ServiceError, SlideError, ValueError, OSError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
