"""What the handler keeps per loaded encoder and answers per request, and how it batches."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np
import torch

from atlaspatch.encoder_service.networks.encoder import Encoder
from atlaspatch.encoder_service.serving.batcher import DynamicBatcher

log = logging.getLogger(__name__)

Submit = Callable[[np.ndarray, float | None], Awaitable[np.ndarray]]


@dataclass(frozen=True)
class Batching:
    """Cross-client batching: at most `max_batch_size` patches per forward pass, a request
    waits at most `max_delay` s for others, at most `max_queue` patches wait (one request
    included). One pass holds at most `max_pass_pixels` pixels, each patch counted at its
    size or the model's input size, whichever is larger: larger requests run as several
    passes, and a single patch over it is refused."""

    max_batch_size: int = 64
    max_delay: float = 0.005
    max_queue: int = 4096
    max_pass_pixels: int = 16_800_000  # 256 patches of 256 px, 64 of 512 px; 200 MB as float32


@dataclass(frozen=True)
class Embedded:
    """One encoder's embeddings of a request, with what computed them."""

    name: str
    matrix: np.ndarray  # (B, D) float32
    precision: str
    weights_sha256: str


@dataclass
class Loaded:
    encoder: Encoder
    submit: Submit
    batcher: DynamicBatcher | None
    precision: str = ""
    weights_sha256: str = ""

    def memory_bytes(self) -> int:
        return self.encoder.memory_bytes()

    def embedded(self, matrix: np.ndarray) -> Embedded:
        return Embedded(self.encoder.name, matrix, self.precision, self.weights_sha256)


def loaded_entry(encoder: Encoder, submit: Submit, batcher: DynamicBatcher | None) -> Loaded:
    facts = encoder.describe()
    return Loaded(encoder, submit, batcher, facts.precision, facts.weights_sha256)


def released(entry: Loaded) -> None:
    log.info("released %s: least recently used, past the loaded budget", entry.encoder.name)
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def run(encoder: Encoder, patches: np.ndarray) -> np.ndarray:
    return encoder.embed(torch.from_numpy(np.ascontiguousarray(patches))).numpy()
