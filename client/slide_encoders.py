"""Slide and patient encoders, run in this process: what the orchestrator may know of them
(their facts, the catalogue, the shape of an embedding) and how one is loaded, from the
encoder service's package (its models import torch only when one is built)."""

from atlaspatch.encoder_service.slide_encoders.base import as_embedding
from atlaspatch.encoder_service.slide_encoders.catalog import (
    MEAN,
    PATIENT_ENCODERS,
    SLIDE_ENCODERS,
    SlideEncoderFacts,
    slide_encoder_facts,
)
from atlaspatch.encoder_service.slide_encoders.loading import load_slide_model

__all__ = [
    "MEAN",
    "PATIENT_ENCODERS",
    "SLIDE_ENCODERS",
    "SlideEncoderFacts",
    "as_embedding",
    "load_slide_model",
    "slide_encoder_facts",
]
