"""A patch's verdict from its scores: usable when every score is under its threshold (a score
that could not be measured, NaN, passes)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from atlaspatch.orchestrator.quality.names import DEFAULT_THRESHOLDS, NAMES

FROM_PIXELS = "patch pixels at the target magnification"
FROM_THUMBNAIL = "thumbnail at 1.25x (fast mode): blur not measured"
FROM_MODEL = "artifact model on the patch pixels: each score its classes' share of pixels"


@dataclass(frozen=True)
class PatchQuality:
    scores: np.ndarray  # (N, len(NAMES)) float32, NaN where not measured
    source: str  # FROM_PIXELS, FROM_THUMBNAIL or FROM_MODEL
    model: dict[str, str] = field(default_factory=dict)  # the artifact model's provenance

    def usable(self, thresholds: dict[str, float]) -> np.ndarray:
        return usable(self.scores, thresholds)

    def take(self, keep: np.ndarray) -> PatchQuality:
        return PatchQuality(self.scores[keep], self.source, self.model)


def thresholds_with(overrides: dict[str, float]) -> dict[str, float]:
    unknown = sorted(set(overrides) - set(NAMES))
    if unknown:
        raise ValueError(
            f"no quality score named {', '.join(unknown)} (scores: {', '.join(NAMES)})"
        )
    return {**DEFAULT_THRESHOLDS, **overrides}


def usable(scores: np.ndarray, thresholds: dict[str, float]) -> np.ndarray:
    return np.asarray(~over_thresholds(scores, thresholds).any(axis=1))


def over_thresholds(scores: np.ndarray, thresholds: dict[str, float]) -> np.ndarray:
    """(N, len(NAMES)) bool: which scores reach their threshold (NaN never does)."""
    limits = np.array([thresholds[name] for name in NAMES], dtype=np.float32)
    with np.errstate(invalid="ignore"):
        return np.asarray(scores >= limits)


@dataclass(frozen=True)
class QualityVerdict:
    """The kept patches' quality, the thresholds it was judged by, and how many unusable
    patches --drop-artifacts left out (None: it was not given)."""

    quality: PatchQuality
    thresholds: dict[str, float]
    dropped: int | None = None

    @property
    def usable(self) -> np.ndarray:
        return self.quality.usable(self.thresholds)
