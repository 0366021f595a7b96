"""What became of one slide: done, skipped or failed, and why."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from atlaspatch.orchestrator.slides.errors import SlideError
from atlaspatch.orchestrator.slides.slide import SlideSource

log = logging.getLogger(__name__)


@dataclass
class SlideResult:
    source: SlideSource
    status: str  # "done", "skipped" or "failed"
    reason: str = ""
    num_patches: int | None = None
    output: Path | None = None
    seconds: dict[str, float] = field(default_factory=dict)


def failure(source: SlideSource, exc: BaseException, prefix: str = "") -> SlideResult:
    """A failed slide, with a reason a person can act on."""
    if isinstance(exc, SlideError):
        reason = str(exc)
    else:
        reason = f"{type(exc).__name__}: {exc}"
        log.debug("unexpected error on %s", source.path, exc_info=exc)
    return SlideResult(source, "failed", prefix + reason)
