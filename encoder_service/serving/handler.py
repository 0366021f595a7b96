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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from atlaspatch.api.encoder_facts import EncoderFacts
from atlaspatch.api.errors import DeadlineExceeded, InvalidInput, NotFound, Unavailable, shown
from atlaspatch.encoder_service.networks.encoder import Encoder
from atlaspatch.encoder_service.networks.precision import checked_precision
from atlaspatch.encoder_service.serving.batcher import BatchObserver, DynamicBatcher
from atlaspatch.encoder_service.serving.encoder_source import EncoderSource
from atlaspatch.encoder_service.serving.entries import (
    Batching,
    Embedded,
    Loaded,
    loaded_entry,
    released,
    run,
)
from atlaspatch.encoder_service.serving.load_policy import LoadPolicy
from atlaspatch.encoder_service.serving.loaded import Key, LoadedEncoders

log = logging.getLogger(__name__)

# Patches from the wire are read-only (the request's bytes), and torch says so when it wraps
# them; no encoder writes into its input, so they are used as they are, without a copy.
warnings.filterwarnings("ignore", "The given NumPy array is not writable", UserWarning)


class NotReady(Unavailable):
    pass


MAX_NAME_LENGTH = 200
MAX_NAMES = 64  # encoders in one request


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
        load_policy: LoadPolicy | None = None,
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
        self._loaded = LoadedEncoders(self._load, max_loaded_bytes, released, self._estimate)
        self._policy = load_policy or LoadPolicy()
        # Loads (disk, hub) on threads of their own: requests never queue behind them.
        self._loads = ThreadPoolExecutor(
            self._policy.max_concurrent_loads, thread_name_prefix="encoder-load"
        )
        self._preloading = False
        self.ready = False
        # Facts of encoders not loaded, by (name, precision): their weights hashed once.
        self._facts: dict[tuple[str, str], EncoderFacts] = {}

    def preload(self, names: list[str], precision: str = "") -> None:
        """Load `names` before the first request; the handler is ready after it."""
        self._preloading = True  # the operator named these: they may be downloaded
        try:
            for name in self._checked(names) if names else []:
                self._loaded.get((name, self._precision(precision)))
        finally:
            self._preloading = False
        self.ready = True

    def load(self, names: list[str], precision: str = "") -> list[EncoderFacts]:
        """Load `names` at `precision` (or find them loaded); their facts, in order."""
        self._check_ready()
        precision = self._precision(precision)
        entries = [self._loaded.get((name, precision)) for name in self._checked(names)]
        return [entry.encoder.describe() for entry in entries]

    async def load_async(self, names: list[str], precision: str = "") -> list[EncoderFacts]:
        """`load` on the loading threads."""
        self.check(names)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._loads, self.load, names, precision)

    def embed_now(self, names: list[str], precision: str, patches: np.ndarray) -> list[Embedded]:
        """`embed` on the calling thread, without batching across callers (in process)."""
        results = []
        for entry in self._entries(names, precision, patches) or []:
            step = self._pass_size(entry.encoder, patches.shape[1:])
            parts = [
                run(entry.encoder, patches[start : start + step])
                for start in range(0, len(patches), step)
            ]
            results.append(entry.embedded(np.concatenate(parts)))
        return results

    def facts(self, names: list[str], precision: str = "") -> list[EncoderFacts]:
        """The facts of `names` at `precision`, in order, from the loaded encoders or, for
        the others, from their catalogue entry and weights file: nothing is loaded."""
        precision = self._precision(precision)
        known = {
            (e.encoder.name, e.precision): e.encoder.describe() for e in self._loaded.entries()
        }
        found = []
        for name in self._checked(names):
            key = (name, precision)
            if key not in known and key not in self._facts:
                self._facts[key] = self._source.facts(
                    name, self._device, precision, self._weights_dir, False
                )
            found.append(known.get(key) or self._facts[key])
        return found

    def check_known(self, names: list[str]) -> None:
        """Refuse names no encoder has, before anything is loaded."""
        for name in self._checked(names):
            self._source.check_known(name)

    def check(self, names: list[str]) -> None:
        """What can be said of a request before its patches are decoded."""
        self._check_ready()
        self._checked(names)

    async def embed(
        self, names: list[str], precision: str, patches: np.ndarray, deadline: float | None = None
    ) -> list[Embedded]:
        """(B, H, W, 3) uint8 -> one `Embedded` per name, in the order of `names`, batched
        with other callers' requests; none of it runs past `deadline` (time.perf_counter())."""
        entries = self._entries(names, precision, patches, load=False)
        if entries is None:  # loading reads weights from disk: on the loading threads
            loop = asyncio.get_running_loop()
            entries = await loop.run_in_executor(
                self._loads, self._entries, names, precision, patches
            )
        assert entries is not None
        if deadline is not None and time.perf_counter() > deadline:
            raise DeadlineExceeded("the deadline passed while the encoders loaded")
        results = await asyncio.gather(*(entry.submit(patches, deadline) for entry in entries))
        return [entry.embedded(matrix) for entry, matrix in zip(entries, results, strict=True)]

    def describe(self) -> list[EncoderFacts]:
        """Every encoder loaded, at every precision."""
        return [entry.encoder.describe() for entry in self._loaded.entries()]

    async def close(self) -> None:
        for entry in self._loaded.entries():
            if entry.batcher is not None:
                await entry.batcher.close()
        self._compute.shutdown(wait=False)
        self._loads.shutdown(wait=False, cancel_futures=True)

    def _entries(
        self, names: list[str], precision: str, patches: np.ndarray, load: bool = True
    ) -> list[Loaded] | None:
        """The entries of `names`, loading those missing (else None if any is)."""
        self._check_ready()
        self._check_patches(patches)
        precision = self._precision(precision)
        keys = [(name, precision) for name in self._checked(names)]
        found = [self._loaded.get(key) if load else self._loaded.find(key) for key in keys]
        entries = [entry for entry in found if entry is not None]
        if len(entries) < len(keys):
            return None
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
            self._policy.check(name)
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

    def _load(self, key: Key) -> Loaded:
        name, precision = key
        encoder = self._source.create(
            name, self._device, precision, self._weights_dir, self._may_download()
        )
        if self._warm_up_batch:
            encoder.warm_up(self._warm_up_batch)
        if self._source.batches_itself:  # a model server holds it, not this process
            log.info("forwarding %s to %s", name, encoder.describe().served_by or "its server")
        else:
            log.info("loaded %s at %s (%.0f MB)", name, precision, encoder.memory_bytes() / 1e6)
        return self._entry(encoder)

    def _estimate(self, key: Key) -> int | None:
        name, precision = key
        if not precision:
            return None  # each model's own, known to the source only
        return self._source.estimated_bytes(
            name, precision, self._weights_dir, self._may_download()
        )

    def _may_download(self) -> bool:
        return self._preloading or self._policy.allow_download

    def _entry(self, encoder: Encoder) -> Loaded:
        if self._source.batches_itself:

            async def forward(patches: np.ndarray, deadline: float | None) -> np.ndarray:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._compute, run, encoder, patches)

            return loaded_entry(encoder, forward, None)
        batching = self._batching
        batcher = DynamicBatcher(
            lambda patches: run(encoder, patches),
            self._compute,
            batching.max_batch_size,
            batching.max_delay,
            batching.max_queue,
            self._observer,
            batch_limit=lambda shape: self._pass_size(encoder, shape),
        )
        return loaded_entry(encoder, batcher.submit, batcher)
