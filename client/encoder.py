"""The encoders as the pipeline sees them: a batch of uint8 patches in, one float32 matrix
per encoder out. `InProcessEncoders` runs them here; a gRPC client will satisfy the same
protocol."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any, Protocol

import numpy as np
import torch

from encoder_service.encoder import Encoder


class EncoderClient(Protocol):
    in_flight: int  # batches worth keeping in flight at once

    def embed(self, patches: np.ndarray) -> dict[str, np.ndarray]:
        """(B, H, W, 3) uint8 -> {encoder name: (B, D) float32}."""
        ...

    def submit(self, patches: np.ndarray) -> Future:
        """Like embed, without waiting; the caller may reuse `patches` at once."""
        ...

    def describe(self) -> dict[str, dict[str, Any]]: ...


class InProcessEncoders:
    in_flight = 1  # the work happens in submit itself

    def __init__(self, encoders: list[Encoder]):
        self._encoders = encoders

    def submit(self, patches: np.ndarray) -> Future:
        done: Future = Future()
        try:
            done.set_result(self.embed(patches))
        except Exception as exc:
            done.set_exception(exc)
        return done

    def embed(self, patches: np.ndarray) -> dict[str, np.ndarray]:
        batch = torch.from_numpy(np.ascontiguousarray(patches))
        return {encoder.name: encoder.embed(batch).numpy() for encoder in self._encoders}

    def describe(self) -> dict[str, dict[str, Any]]:
        return {encoder.name: encoder.describe() for encoder in self._encoders}
