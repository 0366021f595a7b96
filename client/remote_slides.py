"""The slide and patient encoders of an encoder service: features streamed in chunks (no
message near the size limit, however many patches), the embedding back with what computed
it, pinned at first sight like the patch encoders (pinned.py)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from atlaspatch.api.slide_features import (
    PatchData,
    SlideEncoderInfo,
    embedding_from_proto,
    request_messages,
)
from atlaspatch.api.v1 import encoder_pb2, encoder_pb2_grpc
from atlaspatch.client.channel import Endpoint, call_metadata, open_channel
from atlaspatch.client.pinned import PinnedEncoders
from atlaspatch.client.retry import LOAD_RETRYABLE, call_service
from atlaspatch.encoder_service.slide_encoders.catalog import SlideEncoderFacts


class RemoteSlideEncoders:
    def __init__(self, endpoint: Endpoint, deadline: float = 600.0):
        self._endpoint = endpoint
        self._what = f"encoder service at {endpoint.target}"
        self._stub = encoder_pb2_grpc.EncoderStub(open_channel(endpoint))
        self._pinned = PinnedEncoders(self._what)
        self._deadline = deadline

    def load(self, facts: SlideEncoderFacts, patient: bool = False) -> SlideEncoderInfo:
        request = _request(facts, patient)
        # Loading may read gigabytes of weights: a generous deadline.
        response = call_service(
            lambda: self._stub.LoadSlideEncoder(
                request, timeout=600, metadata=call_metadata(self._endpoint)
            ),
            self._what,
            LOAD_RETRYABLE,
            target=self._endpoint.target,
        )
        return self._pin(SlideEncoderInfo.from_proto(response))

    def encode(
        self, facts: SlideEncoderFacts, slides: Sequence[PatchData], patient: bool = False
    ) -> np.ndarray:
        request = _request(facts, patient)
        response = call_service(
            lambda: self._stub.EmbedSlides(
                request_messages(request, slides),  # a fresh stream for each try
                timeout=self._deadline,
                metadata=call_metadata(self._endpoint),
            ),
            self._what,
            target=self._endpoint.target,
        )
        self._pin(SlideEncoderInfo.from_proto(response.encoder))
        return embedding_from_proto(response)

    def _pin(self, info: SlideEncoderInfo) -> SlideEncoderInfo:
        self._pinned.check(
            f"{info.name}({info.patch_encoder})", info.precision, info.weights_sha256
        )
        return info


def _request(facts: SlideEncoderFacts, patient: bool) -> encoder_pb2.LoadSlideEncoderRequest:
    return encoder_pb2.LoadSlideEncoderRequest(
        encoder=facts.name, patch_encoder=facts.patch_encoder or "", patient=patient
    )
