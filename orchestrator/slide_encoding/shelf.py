"""The slide and patient encoder models of one run, each loaded once, when a slide first
needs it; one that cannot be loaded fails every slide that needs it with the same reason,
without trying again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from atlaspatch.api.errors import ServiceError
from atlaspatch.client.slide_encoders import SlideEncoderFacts, load_slide_model
from atlaspatch.orchestrator.slides.errors import SlideError


class ModelShelf:
    def __init__(self, device: str, weights_dir: Path | None = None):
        self._device = device
        self._weights_dir = weights_dir
        self._models: dict[str, Any] = {}
        self._errors: dict[str, BaseException] = {}

    def get(self, facts: SlideEncoderFacts) -> Any:
        if facts.name in self._errors:
            raise self._errors[facts.name]
        if facts.name not in self._models:
            try:
                self._models[facts.name] = load_slide_model(facts, self._device, self._weights_dir)
            except Exception as exc:
                self._errors[facts.name] = exc
                raise
        return self._models[facts.name]


def reason(exc: BaseException) -> str:
    """An error as a person reads it: the message of errors meant for people, else its type
    too."""
    if isinstance(exc, (ServiceError, SlideError, ValueError, OSError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
