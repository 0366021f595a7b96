"""The encoder service's logic, free of gRPC: check requests, load encoders (once per name and
precision), batch requests across clients, run them.

The servicer converts messages and calls `load` and `embed`; the in-process adapter calls
`load` and `embed_now`. Both go through the same checks, default precision and cache.
"""

from __future__ import annotations

import asyncio
import threading
import warnings
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from atlaspatch_api.errors import InvalidInput, Unavailable
from encoder_service.batcher import BatchObserver, DynamicBatcher
from encoder_service.encoder import Encoder
from encoder_service.precision import checked_precision

# Patches from the wire are read-only (the request's bytes), and torch says so when it wraps
# them; no encoder writes into its input, so they are used as they are, without a copy.
warnings.filterwarnings("ignore", "The given NumPy array is not writable", UserWarning)


class NotReady(Unavailable):
    pass


class EncoderSource(Protocol):
    """Makes encoders by name: the registry (local models) or Triton (forwarded models).
    A source that `batches_itself` gets each request at once, many at a time, instead of
    requests merged here first."""

    batches_itself: bool

    def default_precision(self, device: str) -> str:
        """The precision of a request that names none ("" where each model has its own)."""
        ...

    def create(self, name: str, device: str, precision: str, weights_dir: Any) -> Encoder: ...


@dataclass(frozen=True)
class Batching:
    """Cross-client batching: at most `max_batch_size` patches per forward pass, a request
    waits at most `max_delay` s for others, at most `max_queue` patches wait (one request
    included)."""

    max_batch_size: int = 64
    max_delay: float = 0.005
    max_queue: int = 4096


Submit = Callable[[np.ndarray], Awaitable[np.ndarray]]


class EncoderHandler:
    def __init__(
        self,
        source: EncoderSource,
        device: str = "cpu",
        default_precision: str | None = None,
        weights_dir: Path | None = None,
        batching: Batching | None = None,
        observer: BatchObserver | None = None,
        max_patches_per_request: int | None = None,
        warm_up_batch: int = 0,
    ):
        self._source = source
        self._device = device
        self.default_precision = default_precision or source.default_precision(device)
        self._weights_dir = weights_dir
        self._batching = batching or Batching()
        self._observer = observer
        self._max_patches = max_patches_per_request
        # Each encoder runs once at this batch size when it loads, so that the first slide
        # does not pay for CUDA's start-up (0: no warm-up).
        self._warm_up_batch = warm_up_batch
        # One thread runs every forward pass: a device does one batch at a time anyway.
        # Forwarded requests wait on the network, not the device: many at once.
        workers = 32 if source.batches_itself else 1
        self._compute = ThreadPoolExecutor(workers, thread_name_prefix="encoder-compute")
        self._loaded: dict[tuple[str, str], tuple[Encoder, Submit]] = {}
        self._batchers: list[DynamicBatcher] = []
        self._lock = threading.Lock()
        self.ready = False

    def preload(self, names: list[str], precision: str = "") -> None:
        """Load `names` before the first request; the handler is ready after it."""
        for name in names:
            self._get(name, self._precision(precision))
        self.ready = True

    def load(self, names: list[str], precision: str = "") -> list[dict[str, Any]]:
        """Load `names` at `precision` (or find them loaded); their facts, in order."""
        self._check_ready()
        precision = self._precision(precision)
        return [self._get(name, precision)[0].describe() for name in self._checked(names)]

    def embed_now(
        self, names: list[str], precision: str, patches: np.ndarray
    ) -> list[tuple[str, np.ndarray]]:
        """`embed` on the calling thread, without batching across callers (in process)."""
        entries = self._entries(names, precision, patches)
        return [(encoder.name, _run(encoder, patches)) for encoder, _ in entries]

    async def embed(
        self, names: list[str], precision: str, patches: np.ndarray
    ) -> list[tuple[str, np.ndarray]]:
        """(B, H, W, 3) uint8 -> [(name, (B, D) float32)] in the order of `names`, batched
        with other callers' requests."""
        loop = asyncio.get_running_loop()
        # Loading reads weights from disk: off the event loop.
        entries = await loop.run_in_executor(None, self._entries, names, precision, patches)
        results = await asyncio.gather(*(submit(patches) for _, submit in entries))
        return [
            (encoder.name, matrix) for (encoder, _), matrix in zip(entries, results, strict=True)
        ]

    def describe(self) -> list[dict[str, Any]]:
        """Every encoder loaded, at every precision."""
        with self._lock:
            return [encoder.describe() for encoder, _ in self._loaded.values()]

    async def close(self) -> None:
        for batcher in list(self._batchers):
            await batcher.close()
        self._compute.shutdown(wait=False)

    def _entries(
        self, names: list[str], precision: str, patches: np.ndarray
    ) -> list[tuple[Encoder, Submit]]:
        self._check_ready()
        self._check_patches(patches)
        precision = self._precision(precision)
        return [self._get(name, precision) for name in self._checked(names)]

    def _check_ready(self) -> None:
        if not self.ready:
            raise NotReady("the encoder service is still loading its models")

    def _check_patches(self, patches: np.ndarray) -> None:
        if patches.dtype != np.uint8 or patches.ndim != 4 or patches.shape[3] != 3:
            raise InvalidInput(f"patches must be (n, h, w, 3) uint8, not {patches.shape}")
        if 0 in patches.shape:
            raise InvalidInput("an empty patch batch")
        if self._max_patches is not None and len(patches) > self._max_patches:
            raise InvalidInput(
                f"{len(patches)} patches in one request; at most {self._max_patches}"
            )

    def _checked(self, names: list[str]) -> list[str]:
        if not names:
            raise InvalidInput("name at least one encoder")
        return names

    def _precision(self, precision: str) -> str:
        precision = precision or self.default_precision
        # "" is left to the source (a Triton model runs its own precision).
        return checked_precision(precision) if precision else precision

    def _get(self, name: str, precision: str) -> tuple[Encoder, Submit]:
        key = (name, precision)
        with self._lock:
            if key not in self._loaded:
                encoder = self._source.create(name, self._device, precision, self._weights_dir)
                if self._warm_up_batch:
                    encoder.warm_up(self._warm_up_batch)
                self._loaded[key] = (encoder, self._submitter(encoder))
            return self._loaded[key]

    def _submitter(self, encoder: Encoder) -> Submit:
        if self._source.batches_itself:

            async def forward(patches: np.ndarray) -> np.ndarray:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._compute, _run, encoder, patches)

            return forward
        batching = self._batching
        batcher = DynamicBatcher(
            lambda patches: _run(encoder, patches),
            self._compute,
            batching.max_batch_size,
            batching.max_delay,
            batching.max_queue,
            self._observer,
        )
        self._batchers.append(batcher)
        return batcher.submit


def _run(encoder: Encoder, patches: np.ndarray) -> np.ndarray:
    return encoder.embed(torch.from_numpy(np.ascontiguousarray(patches))).numpy()
