"""Choosing pyramid levels for a wanted downsample."""

from __future__ import annotations

# Scanners write downsamples like 4.0161 for a nominal 4; treat those as exact.
_LEVEL_TOLERANCE = 0.01


def level_at_or_finer(downsamples: tuple[float, ...], wanted: float) -> int:
    """The coarsest level whose downsample does not exceed `wanted` (within a 1% tolerance)."""
    best = 0
    for level, downsample in enumerate(downsamples):
        if downsample <= wanted * (1 + _LEVEL_TOLERANCE) and downsample >= downsamples[best]:
            best = level
    return best
