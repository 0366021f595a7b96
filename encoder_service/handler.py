"""The encoder service's logic, free of gRPC: check requests, load encoders (once per name and
precision, within a memory budget), batch requests across clients, run them.

The servicer converts messages and calls `load` and `embed`; the in-process adapter calls
`load` and `embed_now`. Both go through the same checks, default precision, cache and
per-pass budget.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from atlaspatch_api.errors import DeadlineExceeded, InvalidInput, NotFound, Unavailable, shown
from encoder_service.batcher import BatchObserver, DynamicBatcher
from encoder_service.encoder import Encoder
from encoder_service.loaded import Key, LoadedEncoders
from encoder_service.precision import checked_precision

log = logging.getLogger(__name__)

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
    included). One pass holds at most `max_pass_pixels` pixels, each patch counted at its
    size or the model's input size, whichever is larger: larger requests run as several
    passes, and a single patch over it is refused."""

    max_batch_size: int = 64
    max_delay: float = 0.005
    max_queue: int = 4096
    max_pass_pixels: int = 16_800_000  # 256 patches of 256 px, 64 of 512 px; 200 MB as float32


MAX_NAME_LENGTH = 200
MAX_NAMES = 64  # encoders in one request
Submit = Callable[[np.ndarray, float | None], Awaitable[np.ndarray]]


@dataclass(frozen=True)
class Embedded:
    """One encoder's embeddings of a request, with what computed them."""

    name: str
    matrix: np.ndarray  # (B, D) float32
    precision: str
    weights_sha256: str


@dataclass
class _Loaded:
    encoder: Encoder
    submit: Submit
    batcher: DynamicBatcher | None
    precision: str = ""
    weights_sha256: str = ""

    def memory_bytes(self) -> int:
        return self.encoder.memory_bytes()

    def embedded(self, matrix: np.ndarray) -> Embedded:
        return Embedded(self.encoder.name, matrix, self.precision, self.weights_sha256)


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
        max_loaded_bytes: int | None = None,
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
        # Least recently used encoders are released past `max_loaded_bytes` of weights.
        self._loaded = LoadedEncoders(self._load, max_loaded_bytes, _released)
        self.ready = False

    def preload(self, names: list[str], precision: str = "") -> None:
        """Load `names` before the first request; the handler is ready after it."""
        for name in self._checked(names):
            self._loaded.get((name, self._precision(precision)))
        self.ready = True

    def load(self, names: list[str], precision: str = "") -> list[dict[str, Any]]:
        """Load `names` at `precision` (or find them loaded); their facts, in order."""
        self._check_ready()
        precision = self._precision(precision)
        entries = [self._loaded.get((name, precision)) for name in self._checked(names)]
        return [entry.encoder.describe() for entry in entries]

    def embed_now(self, names: list[str], precision: str, patches: np.ndarray) -> list[Embedded]:
        """`embed` on the calling thread, without batching across callers (in process)."""
        results = []
        for entry in self._entries(names, precision, patches):
            step = self._pass_size(entry.encoder, patches.shape[1:])
            parts = [
                _run(entry.encoder, patches[start : start + step])
                for start in range(0, len(patches), step)
            ]
            results.append(entry.embedded(np.concatenate(parts)))
        return results

    def check(self, names: list[str]) -> None:
        """What can be said of a request before its patches are decoded."""
        self._check_ready()
        self._checked(names)

    async def embed(
        self, names: list[str], precision: str, patches: np.ndarray, deadline: float | None = None
    ) -> list[Embedded]:
        """(B, H, W, 3) uint8 -> one `Embedded` per name, in the order of `names`, batched
        with other callers' requests; none of it runs past `deadline` (time.perf_counter())."""
        loop = asyncio.get_running_loop()
        # Loading reads weights from disk: off the event loop.
        entries = await loop.run_in_executor(None, self._entries, names, precision, patches)
        if deadline is not None and time.perf_counter() > deadline:
            raise DeadlineExceeded("the deadline passed while the encoders loaded")
        results = await asyncio.gather(*(entry.submit(patches, deadline) for entry in entries))
        return [entry.embedded(matrix) for entry, matrix in zip(entries, results, strict=True)]

    def describe(self) -> list[dict[str, Any]]:
        """Every encoder loaded, at every precision."""
        return [entry.encoder.describe() for entry in self._loaded.entries()]

    async def close(self) -> None:
        for entry in self._loaded.entries():
            if entry.batcher is not None:
                await entry.batcher.close()
        self._compute.shutdown(wait=False)

    def _entries(self, names: list[str], precision: str, patches: np.ndarray) -> list[_Loaded]:
        self._check_ready()
        self._check_patches(patches)
        precision = self._precision(precision)
        entries = [self._loaded.get((name, precision)) for name in self._checked(names)]
        for entry in entries:
            self._pass_size(entry.encoder, patches.shape[1:])  # a patch over budget: refused
        return entries

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
        """`names` as a request may give them: a few, short, each once. Runs on the event
        loop, so nothing here may cost more than the names' length."""
        if not names:
            raise InvalidInput("name at least one encoder")
        if len(names) > MAX_NAMES:
            raise InvalidInput(f"{len(names):,} encoder names in one request; at most {MAX_NAMES}")
        for name in names:
            if len(name) > MAX_NAME_LENGTH:  # no encoder is named so; never echoed whole
                raise NotFound(f"unknown encoder {shown(name)}")
        repeated = sorted(name for name, count in Counter(names).items() if count > 1)
        if repeated:
            raise InvalidInput(f"encoders named more than once in one request: {repeated}")
        return names

    def _pass_size(self, encoder: Encoder, shape: tuple[int, ...]) -> int:
        """Patches of `shape` per forward pass of `encoder` within the pixel budget."""
        size = encoder.input_size() or 0
        pixels = max(shape[0] * shape[1], size * size)
        budget = self._batching.max_pass_pixels
        if pixels > budget:
            raise InvalidInput(
                f"a patch of {shape[0]}x{shape[1]} px is over the service's budget of "
                f"{budget:,} px per forward pass"
            )
        return max(1, min(self._batching.max_batch_size, budget // pixels))

    def _precision(self, precision: str) -> str:
        precision = precision or self.default_precision
        # "" is left to the source (a Triton model runs its own precision).
        return checked_precision(precision) if precision else precision

    def _load(self, key: Key) -> _Loaded:
        name, precision = key
        encoder = self._source.create(name, self._device, precision, self._weights_dir)
        if self._warm_up_batch:
            encoder.warm_up(self._warm_up_batch)
        log.info("loaded %s at %s (%.0f MB)", name, precision, encoder.memory_bytes() / 1e6)
        return self._entry(encoder)

    def _entry(self, encoder: Encoder) -> _Loaded:
        if self._source.batches_itself:

            async def forward(patches: np.ndarray, deadline: float | None) -> np.ndarray:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._compute, _run, encoder, patches)

            return _loaded(encoder, forward, None)
        batching = self._batching
        batcher = DynamicBatcher(
            lambda patches: _run(encoder, patches),
            self._compute,
            batching.max_batch_size,
            batching.max_delay,
            batching.max_queue,
            self._observer,
            batch_limit=lambda shape: self._pass_size(encoder, shape),
        )
        return _loaded(encoder, batcher.submit, batcher)


def _loaded(encoder: Encoder, submit: Submit, batcher: DynamicBatcher | None) -> _Loaded:
    facts = encoder.describe()
    return _Loaded(
        encoder, submit, batcher, facts.get("precision", ""), facts.get("weights_sha256", "")
    )


def _released(entry: _Loaded) -> None:
    log.info("released %s: least recently used, past the loaded budget", entry.encoder.name)
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _run(encoder: Encoder, patches: np.ndarray) -> np.ndarray:
    return encoder.embed(torch.from_numpy(np.ascontiguousarray(patches))).numpy()
