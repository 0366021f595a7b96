"""Cross-client dynamic batching: small requests from many clients become one forward pass.

Each waiting request holds a future. A batch is flushed when it reaches its size limit
(`max_batch_size` patches, fewer for large patches: `batch_limit`) or when its oldest request
has waited `max_delay` seconds; the merged result is split back to the waiters in order. A
request larger than one batch is split into parts that take turns with other requests (what is
left of it after a pass goes to the back of the queue; it fills a pass alone only when nobody
else waits), so large requests share the passes with small ones instead of holding them up.
A failed batch fails every waiter with the same error. A queue holding `max_queue` patches
refuses more (-> RESOURCE_EXHAUSTED). Work whose caller has gone (cancelled, or past its
deadline) is dropped before it runs.
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

from atlaspatch.api.errors import DeadlineExceeded, Exhausted


class QueueFull(Exhausted):
    pass


@dataclass
class _Waiting:
    patches: np.ndarray
    future: asyncio.Future
    deadline: float | None  # time.perf_counter() after which nobody waits for the result
    arrived: float = field(default_factory=time.perf_counter)
    following: _Waiting | None = None  # the request's next part, queued once this one runs
    request: int = 0  # shared by the parts of one request

    def patches_left(self) -> int:
        """Its patches and those of the parts that follow it."""
        part: _Waiting | None = self
        total = 0
        while part is not None:
            total += len(part.patches)
            part = part.following
        return total

    def abandoned(self, now: float) -> bool:
        if self.future.done():  # its caller was cancelled
            return True
        if self.deadline is not None and now > self.deadline:
            self.future.set_exception(DeadlineExceeded("the deadline passed while queued"))
            return True
        return False


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
        batch_limit: Callable[[tuple[int, ...]], int] | None = None,
    ):
        self._run = run
        self._executor = executor
        self._max_batch = max(1, max_batch_size)
        self._max_delay = max_delay
        self._max_queue = max_queue
        self._observer = observer or _Unobserved()
        # Patches per forward pass for a patch shape (H, W, 3): what bounds a pass's memory.
        self._batch_limit = batch_limit or (lambda shape: self._max_batch)
        self._queue: deque[_Waiting] = deque()
        self._queued_patches = 0
        self._requests = 0  # submitted so far, to tell one request's parts apart
        self._arrival = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def submit(self, patches: np.ndarray, deadline: float | None = None) -> np.ndarray:
        """The embeddings of `patches`; `deadline` is a time.perf_counter() value."""
        if self._queued_patches + len(patches) > self._max_queue:
            raise QueueFull(
                f"{self._queued_patches} patches already queued "
                f"(limit {self._max_queue}); retry later"
            )
        loop = asyncio.get_running_loop()
        limit = self._limit(patches.shape[1:])
        # A request larger than a pass is cut into quarter passes: parts of several large
        # requests share a pass, and a lone one still fills its passes (see _take_batch).
        step = limit if len(patches) <= limit else max(1, limit // 4)
        self._requests += 1
        waiting = [
            _Waiting(patches[start : start + step], loop.create_future(), deadline)
            for start in range(0, len(patches), step)
        ]
        for part in waiting:
            part.request = self._requests
        for part, following in zip(waiting, waiting[1:], strict=False):
            part.following = following
        self._queue.append(waiting[0])
        self._queued_patches += len(patches)
        self._observer.queue_length(self._queued_patches)
        self._arrival.set()
        if self._task is None:
            self._task = loop.create_task(self._serve())
        # A cancelled caller cancels its parts' futures: they are dropped when their turn comes.
        parts = await asyncio.gather(*(w.future for w in waiting))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _serve(self) -> None:
        """Runs while requests wait; ends when none do (so that an idle batcher holds no task
        and a released encoder can be freed)."""
        loop = asyncio.get_running_loop()
        while self._queue:
            await self._wait_for_batch()
            batch = self._take_batch()
            if not batch:
                continue
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
            requests = len({waiting.request for waiting in batch})
            self._observer.batch(len(merged), requests, queued, time.perf_counter() - started)
            start = 0
            for waiting in batch:
                stop = start + len(waiting.patches)
                if not waiting.future.done():  # a cancelled client does not stop the others
                    waiting.future.set_result(output[start:stop])
                start = stop
        self._task = None

    def _limit(self, shape: tuple[int, ...]) -> int:
        return max(1, min(self._max_batch, self._batch_limit(shape)))

    async def _wait_for_batch(self) -> None:
        """Until the queue holds a full batch or the oldest request's delay is up."""
        deadline = self._queue[0].arrived + self._max_delay
        while self._queued_patches < self._limit(self._queue[0].patches.shape[1:]):
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return
            self._arrival.clear()
            try:
                await asyncio.wait_for(self._arrival.wait(), remaining)
            except TimeoutError:
                return

    def _take_batch(self) -> list[_Waiting]:
        """The oldest request still wanted, then later ones of the same patch shape while they
        fit, then, while room is left and no other request waits, the next parts of the split
        requests among them, in turn; the rest of a split request goes to the back of the
        queue. Requests whose
        callers have gone leave the queue unrun."""
        now = time.perf_counter()
        wanted: deque[_Waiting] = deque()
        for waiting in self._queue:
            if waiting.abandoned(now):  # and so are the parts that follow it
                self._queued_patches -= waiting.patches_left()
            else:
                wanted.append(waiting)
        self._queue = wanted
        if not wanted:
            self._observer.queue_length(self._queued_patches)
            return []
        first = wanted.popleft()
        limit = self._limit(first.patches.shape[1:])
        batch, total = [first], len(first.patches)
        kept: deque[_Waiting] = deque()
        while wanted:
            waiting = wanted.popleft()
            fits = total + len(waiting.patches) <= limit
            if fits and waiting.patches.shape[1:] == first.patches.shape[1:]:
                batch.append(waiting)
                total += len(waiting.patches)
            else:
                kept.append(waiting)
        # Further parts of the split requests only while nobody else waits: a request's
        # share of a busy service is one part a turn, whatever its size.
        tails = [w for w in batch if w.following is not None]
        while tails and not kept:
            for index, tail in enumerate(tails):
                part = tail.following
                if part is None or total + len(part.patches) > limit:
                    continue
                batch.append(part)
                total += len(part.patches)
                tails[index] = part
            if all(t.following is None or total + len(t.following.patches) > limit for t in tails):
                break
        kept.extend(t.following for t in tails if t.following is not None)  # their turn again
        self._queue = kept
        self._queued_patches -= total
        self._observer.queue_length(self._queued_patches)
        return batch
