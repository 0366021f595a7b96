"""The weight-free slide and patient encoder: the mean of the patch features of one patch
encoder (every patch of a patient's slides weighs the same)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from atlaspatch.api.errors import InvalidInput
from atlaspatch.api.slide_features import PatchData
from atlaspatch.encoder_service.slide_encoders.base import as_embedding
from atlaspatch.encoder_service.slide_encoders.catalog import SlideEncoderFacts


class MeanPool:
    precision = "float64"  # the sums: no drift over many rows

    def __init__(self, facts: SlideEncoderFacts):
        assert facts.patch_encoder is not None
        self.facts = facts
        self._patch_encoder = facts.patch_encoder

    def encode_slide(self, slide: PatchData) -> np.ndarray:
        return self.encode_case([slide])

    def encode_case(self, slides: Sequence[PatchData]) -> np.ndarray:
        total: np.ndarray | None = None
        count = 0
        for slide in slides:
            features = slide.features
            if total is not None and features.shape[1] != total.shape[0]:
                raise InvalidInput(
                    f"{slide.name}: features/{self._patch_encoder} are {features.shape[1]}-d, "
                    f"those of the patient's other slides {total.shape[0]}-d"
                )
            part = features.sum(axis=0, dtype=np.float64)
            total = part if total is None else total + part
            count += len(features)
        if total is None:
            raise InvalidInput("no slides to average")
        return as_embedding(total / count, self.facts.name)
