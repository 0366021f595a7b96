"""Slide and patient encoders as the orchestrator sees them: a slide's (or a patient's) patch
features in, one embedding out. `LocalSlideEncoders` calls the encoder service's own host
in this process; `RemoteSlideEncoders` (remote_slides.py) calls the service. They differ
only by the wire. The catalogue is torch-free: the command line lists it from here."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from atlaspatch.client.in_process import service_libraries
from atlaspatch.encoder_service.slide_encoders.base import as_embedding
from atlaspatch.encoder_service.slide_encoders.catalog import (
    MEAN,
    PATIENT_ENCODERS,
    SLIDE_ENCODERS,
    SlideEncoderFacts,
    slide_encoder_facts,
)

if TYPE_CHECKING:
    from atlaspatch.api.slide_features import PatchData, SlideEncoderInfo
    from atlaspatch.encoder_service.slide_encoders.host import SlideEncoderHost

__all__ = [
    "MEAN",
    "PATIENT_ENCODERS",
    "SLIDE_ENCODERS",
    "SlideEncoderClient",
    "SlideEncoderFacts",
    "as_embedding",
    "local_slide_encoders",
    "slide_encoder_facts",
]


class SlideEncoderClient(Protocol):
    def load(self, facts: SlideEncoderFacts, patient: bool = False) -> SlideEncoderInfo:
        """Load the encoder of `facts` (or find it loaded) and say what it computes with."""
        ...

    def encode(
        self, facts: SlideEncoderFacts, slides: Sequence[PatchData], patient: bool = False
    ) -> np.ndarray:
        """One slide's embedding, or (`patient`) one of all the slides of a patient."""
        ...


class LocalSlideEncoders:
    WHAT = "Slide and patient encoders"

    def __init__(self, host: SlideEncoderHost):
        self._host = host

    def load(self, facts: SlideEncoderFacts, patient: bool = False) -> SlideEncoderInfo:
        with service_libraries(f"{self.WHAT} ({facts.name})", "--encoder-url"):
            return self._host.load(facts.name, facts.patch_encoder or "", patient)

    def encode(
        self, facts: SlideEncoderFacts, slides: Sequence[PatchData], patient: bool = False
    ) -> np.ndarray:
        with service_libraries(f"{self.WHAT} ({facts.name})", "--encoder-url"):
            vector, _ = self._host.encode(facts.name, facts.patch_encoder or "", patient, slides)
        return vector


def local_slide_encoders(
    device: str = "cpu", weights_dir: Path | None = None
) -> LocalSlideEncoders:
    """The encoder service's slide encoder host in this process, loading on `device`."""
    from atlaspatch.encoder_service.slide_encoders.host import SlideEncoderHost

    return LocalSlideEncoders(SlideEncoderHost(device, weights_dir))
