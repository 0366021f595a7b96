"""What GrandQC's two models share: their published weights as a state_dict loaded strictly
into the architecture built here, ImageNet normalisation, and each pixel's class."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from atlaspatch.api.errors import Refused
from atlaspatch.api.hosting.model_files import file_sha256

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


class GrandQCCheckpointError(Refused):
    pass


class PixelClassifier:
    """`network` with the weights of `checkpoint`, on `device`. `described` names the network
    in messages; `not_a_state_dict` says what to use instead of a file that is none."""

    def __init__(
        self,
        network: Any,
        checkpoint: Path,
        device: str,
        described: str,
        not_a_state_dict: str = "",
    ):
        import torch

        self.checkpoint = checkpoint
        self.sha256 = file_sha256(checkpoint)
        try:
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        except Exception:
            state = None  # a pickled model is refused unread
        if not isinstance(state, dict):
            raise GrandQCCheckpointError(f"{checkpoint} is not a state_dict{not_a_state_dict}")
        try:
            network.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = str(exc).splitlines()[1:2] or [str(exc)]
            raise GrandQCCheckpointError(
                f"{checkpoint} does not fit {described}: {first[0].strip()}"
            ) from None
        self._network = network.to(device).eval()
        self._device = device
        self._torch = torch

    def classes(self, batch: np.ndarray) -> np.ndarray:
        """(N, h, w) int64: the most likely class of each pixel of (N, h, w, 3) uint8 RGB."""
        normalised = (batch.astype(np.float32) / 255 - MEAN) / STD
        tensor = self._torch.from_numpy(normalised.transpose(0, 3, 1, 2).copy()).to(self._device)
        with self._torch.inference_mode():
            logits = self._network(tensor)
        return logits.argmax(dim=1).cpu().numpy()
