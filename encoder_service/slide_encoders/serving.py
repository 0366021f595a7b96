"""Slide and patient encoders behind gRPC: a call's rows assembled within the service's
byte budget (announced first, so a call too large for it is refused before its rows are
read), then encoded on the host's one runner thread, off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from atlaspatch.api.errors import InvalidInput
from atlaspatch.api.slide_features import (
    SlidesAssembly,
    announced_bytes,
    embedding_to_proto,
)
from atlaspatch.api.v1 import encoder_pb2
from atlaspatch.encoder_service.serving.byte_budget import ByteBudget
from atlaspatch.encoder_service.slide_encoders.host import SlideEncoderHost


class SlideEncoding:
    def __init__(self, host: SlideEncoderHost, budget: ByteBudget, max_bytes: int | None):
        """`budget`: what requests in progress may hold together (shared with the tiled
        patch requests); `max_bytes`: its size, which one call may not pass."""
        self._host = host
        self._budget = budget
        self._max_bytes = max_bytes
        self._loads = ThreadPoolExecutor(1, thread_name_prefix="slide-load")
        self._runs = ThreadPoolExecutor(1, thread_name_prefix="slide-encode")

    async def load(
        self, request: encoder_pb2.LoadSlideEncoderRequest
    ) -> encoder_pb2.SlideEncoderInfo:
        loop = asyncio.get_running_loop()
        info = await loop.run_in_executor(
            self._loads, self._host.load, request.encoder, request.patch_encoder, request.patient
        )
        return info.to_proto()

    async def embed(
        self, requests: AsyncIterator[encoder_pb2.EmbedSlidesRequest]
    ) -> encoder_pb2.SlideEmbedding:
        stream = aiter(requests)
        first = await anext(stream, None)
        if first is None or first.WhichOneof("part") != "start":
            raise InvalidInput("an EmbedSlides call begins with its start message")
        start = first.start
        asked = start.encoder
        self._host.check(asked.encoder, asked.patch_encoder, asked.patient)
        size = announced_bytes(start)
        if self._max_bytes is not None and size > self._max_bytes:
            raise InvalidInput(
                f"{size / 2**20:.0f} MiB of patch features in one call, more than this "
                f"service holds for its calls together ({self._max_bytes / 2**20:.0f} MiB, "
                "--max-decoded-mib)"
            )
        async with self._budget.hold(size):
            assembly = SlidesAssembly(start, asked.patient)
            async for message in stream:
                if message.WhichOneof("part") != "rows":
                    raise InvalidInput("a second start message in one EmbedSlides call")
                assembly.add(message.rows)
            slides = assembly.slides()
            loop = asyncio.get_running_loop()
            vector, info = await loop.run_in_executor(
                self._runs,
                self._host.encode,
                asked.encoder,
                asked.patch_encoder,
                asked.patient,
                slides,
            )
        return embedding_to_proto(vector, info)

    def close(self) -> None:
        self._loads.shutdown(wait=False, cancel_futures=True)
        self._runs.shutdown(wait=False, cancel_futures=True)
