"""The encoder service's gRPC face: messages in, handler calls, messages out. Nothing else."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc

from atlaspatch.api import wire
from atlaspatch.api.cpus import usable_cpus
from atlaspatch.api.encoder_facts import EncoderFacts
from atlaspatch.api.tiles import decode_batch
from atlaspatch.api.v1 import encoder_pb2, encoder_pb2_grpc
from atlaspatch.encoder_service.serving.byte_budget import ByteBudget
from atlaspatch.encoder_service.serving.handler import EncoderHandler
from atlaspatch.encoder_service.slide_encoders.host import SlideEncoderHost
from atlaspatch.encoder_service.slide_encoders.serving import SlideEncoding


class EncoderServicer(encoder_pb2_grpc.EncoderServicer):
    def __init__(
        self,
        handler: EncoderHandler,
        slide_encoders: SlideEncoderHost,
        max_patches: int | None = None,
        max_decoded_bytes: int | None = None,
    ):
        """`max_decoded_bytes`: what the tiled requests in progress may decode to, and the
        slide encoders' calls hold, together (one request over it is refused; others wait
        for room)."""
        self._handler = handler
        self._max_patches = max_patches
        self._max_decoded = max_decoded_bytes
        self._decoding = ByteBudget(max_decoded_bytes)
        # A request's checks and assembly, in proportion to its size: off the event loop.
        self._requests = ThreadPoolExecutor(4, thread_name_prefix="tiled-request")
        # JPEG tiles decode on every core it may use (libjpeg releases the GIL).
        self._decode = ThreadPoolExecutor(usable_cpus(), thread_name_prefix="tile-decode")
        self._slides = SlideEncoding(slide_encoders, self._decoding, max_decoded_bytes)

    async def Embed(
        self, request: encoder_pb2.EmbedRequest, context: grpc.aio.ServicerContext
    ) -> encoder_pb2.EmbedResponse:
        names = list(request.encoders)
        self._handler.check(names)  # before any decoding
        remaining = context.time_remaining()
        deadline = None if remaining is None else time.perf_counter() + remaining
        if request.WhichOneof("batch") != "tiled":
            patches = wire.patches_from_proto(request.patches)
            results = await self._handler.embed(names, request.precision, patches, deadline)
            return _response(results)
        loop = asyncio.get_running_loop()
        tiled = await loop.run_in_executor(
            self._requests, wire.tiled_from_proto, request.tiled, self._max_patches,
            self._max_decoded,
        )  # fmt: skip
        # The decoded patches are held until they are embedded: the budget covers both.
        async with self._decoding.hold(tiled.decoded_bytes):
            patches = await loop.run_in_executor(self._requests, decode_batch, tiled, self._decode)
            results = await self._handler.embed(names, request.precision, patches, deadline)
        return _response(results)

    async def Load(
        self, request: encoder_pb2.LoadRequest, context: grpc.aio.ServicerContext
    ) -> encoder_pb2.LoadResponse:
        facts = await self._handler.load_async(list(request.encoders), request.precision)
        return encoder_pb2.LoadResponse(encoders=[_info(f) for f in facts])

    async def LoadSlideEncoder(
        self, request: encoder_pb2.LoadSlideEncoderRequest, context: grpc.aio.ServicerContext
    ) -> encoder_pb2.SlideEncoderInfo:
        return await self._slides.load(request)

    async def EmbedSlides(
        self, requests: Any, context: grpc.aio.ServicerContext
    ) -> encoder_pb2.SlideEmbedding:
        return await self._slides.embed(requests)

    def close(self) -> None:
        self._slides.close()

    async def ListEncoders(
        self, request: encoder_pb2.ListEncodersRequest, context: grpc.aio.ServicerContext
    ) -> encoder_pb2.ListEncodersResponse:
        return encoder_pb2.ListEncodersResponse(
            encoders=[_info(facts) for facts in self._handler.describe()]
        )


def _response(results: list) -> encoder_pb2.EmbedResponse:
    return encoder_pb2.EmbedResponse(
        embeddings=[
            wire.embedding_to_proto(e.name, e.matrix, e.precision, e.weights_sha256)
            for e in results
        ]
    )


def _info(facts: EncoderFacts) -> encoder_pb2.EncoderInfo:
    return encoder_pb2.EncoderInfo(
        name=facts.encoder,
        embedding_dim=facts.embedding_dim,
        input_size=facts.input_size,
        weights_sha256=facts.weights_sha256,
        precision=facts.precision,
        description_json=facts.to_json(),
    )
