"""The segmenter service's gRPC face: thumbnails in, masks out, one model per service."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import grpc

from atlaspatch.api import wire
from atlaspatch.api.v1 import segmenter_pb2, segmenter_pb2_grpc
from atlaspatch.segmenter_service.handler import SegmenterHandler


class SegmenterServicer(segmenter_pb2_grpc.SegmenterServicer):
    def __init__(self, handler: SegmenterHandler):
        self._handler = handler
        # The model runs one batch at a time, off the event loop.
        self._compute = ThreadPoolExecutor(1, thread_name_prefix="segmenter-compute")

    async def Segment(
        self, request: segmenter_pb2.SegmentRequest, context: grpc.aio.ServicerContext
    ) -> segmenter_pb2.SegmentResponse:
        thumbnails = [wire.image_from_proto(t) for t in request.thumbnails]
        masks = await asyncio.get_running_loop().run_in_executor(
            self._compute, self._handler.segment, request.model, thumbnails
        )
        return segmenter_pb2.SegmentResponse(masks=[wire.mask_to_proto(m) for m in masks])

    async def ListModels(
        self, request: segmenter_pb2.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> segmenter_pb2.ListModelsResponse:
        model = segmenter_pb2.SegmenterModel(
            name=self._handler.model, provenance=self._handler.provenance()
        )
        return segmenter_pb2.ListModelsResponse(models=[model])
