"""The weight-free slide and patient encoder: the mean of the patch features of one patch
encoder (every patch of a patient's slides weighs the same)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from atlaspatch.encoder_service.slide_encoders.base import as_embedding
from atlaspatch.encoder_service.slide_encoders.catalog import SlideEncoderFacts
from atlaspatch.encoder_service.slide_encoders.patch_data import read_patch_data


class MeanPool:
    def __init__(self, facts: SlideEncoderFacts):
        assert facts.patch_encoder is not None
        self.facts = facts
        self._patch_encoder = facts.patch_encoder

    def encode_slide(self, patch_file: Path) -> np.ndarray:
        return self.encode_case([patch_file])

    def encode_case(self, patch_files: Sequence[Path]) -> np.ndarray:
        total: np.ndarray | None = None
        count = 0
        for path in patch_files:
            features = read_patch_data(path, self._patch_encoder).features
            if total is not None and features.shape[1] != total.shape[0]:
                raise ValueError(
                    f"{path}: features/{self._patch_encoder} are {features.shape[1]}-d, those "
                    f"of the patient's other slides {total.shape[0]}-d"
                )
            part = features.sum(axis=0, dtype=np.float64)  # float64: no drift over many rows
            total = part if total is None else total + part
            count += len(features)
        if total is None:
            raise ValueError("no slides to average")
        return as_embedding(total / count, self.facts.name)
