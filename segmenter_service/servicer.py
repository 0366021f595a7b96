"""The segmenter service's gRPC face: thumbnails in, masks out, one model per service; and,
where it hosts an artifact model, patches in, each one's class shares out."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import grpc

from atlaspatch.api import wire
from atlaspatch.api.errors import NotFound
from atlaspatch.api.v1 import segmenter_pb2, segmenter_pb2_grpc
from atlaspatch.segmenter_service.artifacts_handler import ArtifactsHandler
from atlaspatch.segmenter_service.handler import SegmenterHandler


class SegmenterServicer(segmenter_pb2_grpc.SegmenterServicer):
    def __init__(self, handler: SegmenterHandler, artifacts: ArtifactsHandler | None = None):
        self._handler = handler
        self._artifacts = artifacts
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
        hosted = []
        if self._artifacts is not None:
            hosted.append(
                segmenter_pb2.SegmenterModel(
                    name=self._artifacts.name, provenance=self._artifacts.provenance()
                )
            )
        return segmenter_pb2.ListModelsResponse(models=[model], artifact_models=hosted)

    async def ScorePatches(
        self, request: segmenter_pb2.ScorePatchesRequest, context: grpc.aio.ServicerContext
    ) -> segmenter_pb2.ScorePatchesResponse:
        if self._artifacts is None:
            raise NotFound(
                "this segmenter hosts no artifact model (serve it with --artifact-model)"
            )
        patches = [wire.image_from_proto(p) for p in request.patches]
        shares = await asyncio.get_running_loop().run_in_executor(
            self._compute, self._artifacts.shares, request.model, patches, request.patch_mpp
        )
        return segmenter_pb2.ScorePatchesResponse(
            classes=list(self._artifacts.classes),
            rows=len(shares),
            shares=shares.astype("<f4").tobytes(),
        )
