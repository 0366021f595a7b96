"""Slide and patient encoders hosted on one device: each loaded once, when first asked for
(or at start), and run one call at a time (a slide's patches are its own batch: slides of
different lengths are not stacked). The same host answers in process and behind gRPC."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from atlaspatch.api.errors import InvalidInput
from atlaspatch.api.slide_features import PatchData, SlideEncoderInfo
from atlaspatch.encoder_service.serving.load_policy import LoadPolicy
from atlaspatch.encoder_service.slide_encoders.base import as_embedding
from atlaspatch.encoder_service.slide_encoders.catalog import (
    MEAN,
    SlideEncoderFacts,
    slide_encoder_facts,
)
from atlaspatch.encoder_service.slide_encoders.loading import LoadedSlideModel, load_slide_model

Key = tuple[str, str]  # (encoder, patch encoder)


class SlideEncoderHost:
    def __init__(
        self,
        device: str = "cpu",
        weights_dir: Path | None = None,
        policy: LoadPolicy | None = None,
    ):
        """`policy`: which encoders callers may have loaded (the mean pool always: it has no
        weights); None: any (in process)."""
        self._device = device
        self._weights_dir = weights_dir
        self._policy = policy or LoadPolicy()
        self._models: dict[Key, tuple[LoadedSlideModel, SlideEncoderInfo]] = {}
        self._loading = threading.Lock()
        self._running = threading.Lock()

    def preload(self, names: Iterable[str]) -> None:
        """Load `names` now, fetching their weights where allowed at all."""
        for name in names:
            facts = slide_encoder_facts(name)
            if facts.patch_encoder is not None:  # the mean pool has nothing to load
                self._load(facts, allow_download=True)

    def check(self, name: str, patch_encoder: str, patient: bool) -> SlideEncoderFacts:
        """The facts of a request's encoder, refused before any of its rows are read."""
        facts = slide_encoder_facts(name, patient).reading(patch_encoder or None)
        if patch_encoder and facts.patch_encoder != patch_encoder:
            raise InvalidInput(
                f"{facts.name} reads features/{facts.patch_encoder}, not features/{patch_encoder}"
            )
        if facts.name != MEAN:
            self._policy.check(facts.name)
        return facts

    def load(self, name: str, patch_encoder: str = "", patient: bool = False) -> SlideEncoderInfo:
        facts = self.check(name, patch_encoder, patient)
        return self._load(facts, self._policy.allow_download)[1]

    def encode(
        self, name: str, patch_encoder: str, patient: bool, slides: Sequence[PatchData]
    ) -> tuple[np.ndarray, SlideEncoderInfo]:
        """One embedding of `slides`: a slide's (one slide), or a patient's (`patient`)."""
        facts = self.check(name, patch_encoder, patient)
        if not slides or (len(slides) > 1 and not patient):
            raise InvalidInput(f"a slide embedding is made of one slide, not {len(slides)}")
        loaded, info = self._load(facts, self._policy.allow_download)
        model = loaded.model
        with self._running:
            vector = (
                model.encode_case(slides)  # type: ignore[union-attr]
                if patient
                else model.encode_slide(slides[0])
            )
        return as_embedding(vector, facts.name, facts.embedding_dim), info

    def _load(
        self, facts: SlideEncoderFacts, allow_download: bool
    ) -> tuple[LoadedSlideModel, SlideEncoderInfo]:
        key = (facts.name, facts.patch_encoder or "")
        with self._loading:
            if key not in self._models:
                loaded = load_slide_model(facts, self._device, self._weights_dir, allow_download)
                info = SlideEncoderInfo(
                    facts.name,
                    facts.embedding_dim,
                    facts.patch_encoder or "",
                    loaded.model.precision,
                    loaded.weights_sha256,
                    asdict(facts),
                )
                self._models[key] = (loaded, info)
            return self._models[key]
