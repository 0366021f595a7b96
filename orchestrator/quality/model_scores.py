"""Quality scores from an artifact model (`--artifact-model`): the patches the coordinate pass
reads, sent a batch at a time, each scored by its share of pixels in the model's classes."""

from __future__ import annotations

import numpy as np

from atlaspatch.client.artifacts import ArtifactScorer
from atlaspatch.orchestrator.quality.names import NAMES

# GrandQC's classes, as the scores name them; dark spots and foreign objects count as pen,
# as the pixel scores count dark debris.
SCORE_CLASSES = {
    "blur": ("out_of_focus",),
    "pen": ("pen_marking", "dark_spot_or_foreign_object"),
    "fold": ("fold",),
    "bubble": ("edge_or_air_bubble",),
    "background": ("background",),
}
BATCH = 32


class ModelScores:
    def __init__(self, scorer: ArtifactScorer, patch_mpp: float, count: int):
        self._scorer, self._mpp = scorer, patch_mpp
        self._scores = np.full((count, len(NAMES)), np.nan, dtype=np.float32)
        self._indices: list[int] = []
        self._patches: list[np.ndarray] = []

    def add(self, index: int, patch: np.ndarray) -> None:
        self._indices.append(index)
        self._patches.append(patch)
        if len(self._patches) >= BATCH:
            self._flush()

    def finish(self) -> np.ndarray:
        self._flush()
        return self._scores

    def _flush(self) -> None:
        if not self._patches:
            return
        classes, shares = self._scorer.shares(np.stack(self._patches), self._mpp)
        for column, name in enumerate(NAMES):
            wanted = [classes.index(c) for c in SCORE_CLASSES[name] if c in classes]
            self._scores[self._indices, column] = shares[:, wanted].sum(axis=1)
        self._indices, self._patches = [], []
