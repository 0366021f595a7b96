"""Bytes that requests in progress may hold together: a request waits for room instead of
allocating past the budget."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class ByteBudget:
    def __init__(self, total: int | None):
        """`total` None: no bound."""
        self._total = total
        self._held = 0
        self._room = asyncio.Condition()

    @asynccontextmanager
    async def hold(self, size: int) -> AsyncIterator[None]:
        """`size` bytes for the block (at most `total`: the caller checks that first)."""
        if self._total is None:
            yield
            return
        total = self._total
        size = min(size, total)
        async with self._room:
            await self._room.wait_for(lambda: self._held + size <= total)
            self._held += size
        try:
            yield
        finally:
            async with self._room:
                self._held -= size
                self._room.notify_all()
