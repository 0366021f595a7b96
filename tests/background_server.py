"""A model server on an event loop of its own thread, for the tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from atlaspatch.api.hosting.server import ModelServer


class BackgroundServer:
    def __init__(self, build: Callable[[], ModelServer]):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.server = self._call(self._build_and_start(build))

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def stop(self) -> None:
        self._call(self.server.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    async def _build_and_start(self, build: Callable[[], ModelServer]) -> ModelServer:
        server = build()
        await server.start()
        return server

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
