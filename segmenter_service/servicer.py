"""The segmenter service's gRPC face: thumbnails in, masks out, one model per service."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import grpc

from client import wire
from client.pb import segmenter_pb2, segmenter_pb2_grpc
from segmenter_service.backend import SegmenterBackend


class UnknownModel(LookupError):
    pass


class SegmenterServicer(segmenter_pb2_grpc.SegmenterServicer):
    def __init__(self, backend: SegmenterBackend, max_thumbnails: int = 64):
        self._backend = backend
        self._max_thumbnails = max_thumbnails
        # The model runs one batch at a time, off the event loop.
        self._compute = ThreadPoolExecutor(1, thread_name_prefix="segmenter-compute")

    async def Segment(
        self, request: segmenter_pb2.SegmentRequest, context: grpc.aio.ServicerContext
    ) -> segmenter_pb2.SegmentResponse:
        if request.model and request.model != self._backend.name:
            raise UnknownModel(f"this service hosts {self._backend.name!r}, not {request.model!r}")
        if not request.thumbnails:
            raise wire.InvalidInput("no thumbnails")
        if len(request.thumbnails) > self._max_thumbnails:
            raise wire.InvalidInput(
                f"{len(request.thumbnails)} thumbnails; at most {self._max_thumbnails}"
            )
        thumbnails = [wire.image_from_proto(t) for t in request.thumbnails]
        loop = asyncio.get_running_loop()
        masks = await loop.run_in_executor(self._compute, self._backend.segment, thumbnails)
        return segmenter_pb2.SegmentResponse(masks=[wire.mask_to_proto(m) for m in masks])

    async def ListModels(
        self, request: segmenter_pb2.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> segmenter_pb2.ListModelsResponse:
        model = segmenter_pb2.SegmenterModel(
            name=self._backend.name, provenance=self._backend.provenance()
        )
        return segmenter_pb2.ListModelsResponse(models=[model])
