"""The encoder service's logic, free of gRPC: load encoders, batch requests across clients,
run them. The servicer converts messages; the in-process client never needs this class."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from encoder_service.batcher import BatchStats, DynamicBatcher
from encoder_service.encoder import Encoder


class NotReady(Exception):
    pass


class EncoderSource(Protocol):
    """Makes encoders by name: the registry (local models) or Triton (forwarded models).
    A source that `batches_itself` gets each request at once, many at a time, instead of
    requests merged here first."""

    batches_itself: bool

    def create(self, name: str, device: str, precision: str, weights_dir: Any) -> Encoder: ...


Submit = Callable[[np.ndarray], Awaitable[np.ndarray]]


class EncoderHandler:
    def __init__(
        self,
        source: EncoderSource,
        device: str = "cpu",
        default_precision: str = "float32",
        weights_dir: Path | None = None,
        max_batch_size: int = 64,
        max_delay: float = 0.005,
        max_queue: int = 4096,
        stats: BatchStats | None = None,
    ):
        self._source = source
        self._device = device
        self.default_precision = default_precision
        self._weights_dir = weights_dir
        self._batching = (max_batch_size, max_delay, max_queue)
        self._stats = stats
        # One thread runs every forward pass: a device does one batch at a time anyway.
        # Forwarded requests wait on the network, not the device: many at once.
        workers = 32 if source.batches_itself else 1
        self._compute = ThreadPoolExecutor(workers, thread_name_prefix="encoder-compute")
        self._loaded: dict[tuple[str, str], tuple[Encoder, Submit]] = {}
        self._batchers: list[DynamicBatcher] = []
        self._lock = threading.Lock()
        self.ready = False

    def preload(self, names: list[str], precision: str | None = None) -> None:
        for name in names:
            self._get(name, precision or self.default_precision)
        self.ready = True

    async def embed(
        self, names: list[str], precision: str, patches: np.ndarray
    ) -> list[tuple[str, np.ndarray]]:
        if not self.ready:
            raise NotReady("the encoder service is still loading its models")
        precision = precision or self.default_precision
        loop = asyncio.get_running_loop()
        # Loading reads weights from disk: off the event loop.
        entries = [await loop.run_in_executor(None, self._get, name, precision) for name in names]
        results = await asyncio.gather(*(submit(patches) for _, submit in entries))
        return [
            (encoder.name, matrix) for (encoder, _), matrix in zip(entries, results, strict=True)
        ]

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [encoder.describe() for encoder, _ in self._loaded.values()]

    async def close(self) -> None:
        for batcher in list(self._batchers):
            await batcher.close()
        self._compute.shutdown(wait=False)

    def _get(self, name: str, precision: str) -> tuple[Encoder, Submit]:
        key = (name, precision)
        with self._lock:
            if key not in self._loaded:
                encoder = self._source.create(name, self._device, precision, self._weights_dir)
                self._loaded[key] = (encoder, self._submitter(encoder))
            return self._loaded[key]

    def _submitter(self, encoder: Encoder) -> Submit:
        def run(patches: np.ndarray) -> np.ndarray:
            # Bytes from the wire are read-only; torch wants memory it may write.
            writable = patches if patches.flags.writeable else patches.copy()
            return encoder.embed(torch.from_numpy(writable)).numpy()

        if self._source.batches_itself:

            async def forward(patches: np.ndarray) -> np.ndarray:
                return await asyncio.get_running_loop().run_in_executor(self._compute, run, patches)

            return forward
        max_batch, delay, queue = self._batching
        batcher = DynamicBatcher(run, self._compute, max_batch, delay, queue, self._stats)
        self._batchers.append(batcher)
        return batcher.submit
