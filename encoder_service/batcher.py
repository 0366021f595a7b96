"""Cross-client dynamic batching: small requests from many clients become one forward pass.

Each waiting request holds a future. A batch is flushed when it reaches `max_batch_size`
patches or when its oldest request has waited `max_delay` seconds; the merged result is split
back to the waiters in order. A failed batch fails every waiter with the same error. A queue
holding `max_queue` patches refuses more (-> RESOURCE_EXHAUSTED).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from atlaspatch_api.errors import Exhausted


class QueueFull(Exhausted):
    pass


@dataclass
class _Waiting:
    patches: np.ndarray
    future: asyncio.Future
    arrived: float = field(default_factory=time.perf_counter)


class BatchObserver(Protocol):
    """Told of each forward pass and of the queue's length (the service's metrics)."""

    def batch(self, patches: int, requests: int, queued: float, compute: float) -> None: ...

    def queue_length(self, patches: int) -> None: ...


class _Unobserved:
    def batch(self, patches: int, requests: int, queued: float, compute: float) -> None:
        pass

    def queue_length(self, patches: int) -> None:
        pass


class DynamicBatcher:
    def __init__(
        self,
        run: Callable[[np.ndarray], np.ndarray],
        executor: Executor,
        max_batch_size: int = 64,
        max_delay: float = 0.005,
        max_queue: int = 4096,
        observer: BatchObserver | None = None,
    ):
        self._run = run
        self._executor = executor
        self._max_batch = max(1, max_batch_size)
        self._max_delay = max_delay
        self._max_queue = max_queue
        self._observer = observer or _Unobserved()
        self._queue: deque[_Waiting] = deque()
        self._queued_patches = 0
        self._arrival = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def submit(self, patches: np.ndarray) -> np.ndarray:
        if self._queued_patches + len(patches) > self._max_queue:
            raise QueueFull(
                f"{self._queued_patches} patches already queued "
                f"(limit {self._max_queue}); retry later"
            )
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._serve())
        waiting = _Waiting(patches, asyncio.get_running_loop().create_future())
        self._queue.append(waiting)
        self._queued_patches += len(patches)
        self._observer.queue_length(self._queued_patches)
        self._arrival.set()
        return await waiting.future

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                self._arrival.clear()
                await self._arrival.wait()
            await self._wait_for_batch()
            batch = self._take_batch()
            queued = time.perf_counter() - batch[0].arrived
            merged = (
                np.concatenate([w.patches for w in batch]) if len(batch) > 1 else batch[0].patches
            )
            started = time.perf_counter()
            try:
                output = await loop.run_in_executor(self._executor, self._run, merged)
            except Exception as exc:
                for waiting in batch:
                    if not waiting.future.done():
                        waiting.future.set_exception(exc)
                continue
            self._observer.batch(len(merged), len(batch), queued, time.perf_counter() - started)
            start = 0
            for waiting in batch:
                stop = start + len(waiting.patches)
                if not waiting.future.done():  # a cancelled client does not stop the others
                    waiting.future.set_result(output[start:stop])
                start = stop

    async def _wait_for_batch(self) -> None:
        """Until the queue holds a full batch or the oldest request's delay is up."""
        deadline = self._queue[0].arrived + self._max_delay
        while self._queued_patches < self._max_batch:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return
            self._arrival.clear()
            try:
                await asyncio.wait_for(self._arrival.wait(), remaining)
            except TimeoutError:
                return

    def _take_batch(self) -> list[_Waiting]:
        """The oldest request, then later ones of the same patch shape while they fit."""
        first = self._queue.popleft()
        batch, total = [first], len(first.patches)
        kept: deque[_Waiting] = deque()
        while self._queue:
            waiting = self._queue.popleft()
            fits = total + len(waiting.patches) <= self._max_batch
            if fits and waiting.patches.shape[1:] == first.patches.shape[1:]:
                batch.append(waiting)
                total += len(waiting.patches)
            else:
                kept.append(waiting)
        self._queue = kept
        self._queued_patches -= total
        self._observer.queue_length(self._queued_patches)
        return batch
