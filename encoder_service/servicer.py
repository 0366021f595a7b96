"""The encoder service's gRPC face: messages in, handler calls, messages out. Nothing else."""

from __future__ import annotations

import json

import grpc

from client import wire
from client.pb import encoder_pb2, encoder_pb2_grpc
from encoder_service.handler import EncoderHandler


class EncoderServicer(encoder_pb2_grpc.EncoderServicer):
    def __init__(self, handler: EncoderHandler, max_patches_per_request: int = 4096):
        self._handler = handler
        self._max_patches = max_patches_per_request

    async def Embed(
        self, request: encoder_pb2.EmbedRequest, context: grpc.aio.ServicerContext
    ) -> encoder_pb2.EmbedResponse:
        if not request.encoders:
            raise wire.InvalidInput("name at least one encoder")
        patches = wire.patches_from_proto(request.patches, self._max_patches)
        results = await self._handler.embed(list(request.encoders), request.precision, patches)
        return encoder_pb2.EmbedResponse(
            embeddings=[wire.embedding_to_proto(name, matrix) for name, matrix in results]
        )

    async def ListEncoders(
        self, request: encoder_pb2.ListEncodersRequest, context: grpc.aio.ServicerContext
    ) -> encoder_pb2.ListEncodersResponse:
        infos = []
        for facts in self._handler.describe():
            infos.append(
                encoder_pb2.EncoderInfo(
                    name=facts["encoder"],
                    embedding_dim=int(facts["embedding_dim"]),
                    input_size=int(facts.get("preprocessing", {}).get("input_size", 0))
                    if isinstance(facts.get("preprocessing"), dict)
                    else 0,
                    weights_sha256=facts.get("weights_sha256", ""),
                    precision=facts.get("precision", ""),
                    description_json=json.dumps(facts, sort_keys=True, default=str),
                )
            )
        return encoder_pb2.ListEncodersResponse(encoders=infos)
