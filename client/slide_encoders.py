"""Slide and patient encoders, run in this process: what the orchestrator may know of them
(their facts, the catalogue, the shape of an embedding) and how one is loaded, from the
encoder service's package (its models import torch only when one is built)."""

from __future__ import annotations

from pathlib import Path

from atlaspatch.client.in_process import service_libraries
from atlaspatch.encoder_service.slide_encoders.base import SlideModel, as_embedding
from atlaspatch.encoder_service.slide_encoders.catalog import (
    MEAN,
    PATIENT_ENCODERS,
    SLIDE_ENCODERS,
    SlideEncoderFacts,
    slide_encoder_facts,
)
from atlaspatch.encoder_service.slide_encoders.loading import load_slide_model as _load

__all__ = [
    "MEAN",
    "PATIENT_ENCODERS",
    "SLIDE_ENCODERS",
    "SlideEncoderFacts",
    "as_embedding",
    "load_slide_model",
    "slide_encoder_facts",
]


def load_slide_model(
    facts: SlideEncoderFacts, device: str = "cpu", weights_dir: Path | None = None
) -> SlideModel:
    """The model of `facts` on `device`; without the services' libraries, an error saying so."""
    with service_libraries(f"Slide encoders ({facts.name})"):
        return _load(facts, device, weights_dir)
