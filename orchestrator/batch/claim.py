"""Taking a slide's lock before working on it, as every batch command does."""

from __future__ import annotations

from atlaspatch.orchestrator.batch.locks import SlideLocks
from atlaspatch.orchestrator.pipeline.result import SlideResult, failure
from atlaspatch.orchestrator.slides.slide import SlideSource


def claim(locks: SlideLocks, source: SlideSource) -> SlideResult | None:
    """None when this worker now holds the slide; otherwise the slide's result: skipped
    (another worker holds it) or failed (its lock cannot be written)."""
    try:
        holder = locks.acquire(source.stem)
    except OSError as exc:
        return failure(source, exc, "cannot take its lock: ")
    if holder is not None:
        return SlideResult(source, "skipped", f"another worker has it: {holder}")
    return None
