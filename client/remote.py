"""Typed clients of the two services. They satisfy the same protocols as the in-process
adapters (client/segmenter.py, client/encoder.py), so the pipeline does not know which it has."""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from client import wire
from client.channel import Endpoint, call_metadata, open_channel
from client.pb import encoder_pb2, encoder_pb2_grpc, segmenter_pb2, segmenter_pb2_grpc
from client.retry import with_retries


class RemoteSegmenter:
    def __init__(self, endpoint: Endpoint, model: str = "", deadline: float = 600.0):
        self._endpoint = endpoint
        self._stub = segmenter_pb2_grpc.SegmenterStub(open_channel(endpoint))
        self._model = model
        self._deadline = deadline
        self._provenance: dict[str, str] | None = None

    def segment(self, thumbnails: list[np.ndarray]) -> list[np.ndarray]:
        request = segmenter_pb2.SegmentRequest(
            model=self._model, thumbnails=[wire.image_to_proto(t) for t in thumbnails]
        )
        response = with_retries(
            lambda: self._stub.Segment(
                request, timeout=self._deadline, metadata=call_metadata(self._endpoint)
            ),
            f"segmenter at {self._endpoint.target}",
        )
        return [wire.mask_from_proto(m) for m in response.masks]

    def provenance(self) -> dict[str, str]:
        if self._provenance is None:
            response = with_retries(
                lambda: self._stub.ListModels(
                    segmenter_pb2.ListModelsRequest(),
                    timeout=30,
                    metadata=call_metadata(self._endpoint),
                ),
                f"segmenter at {self._endpoint.target}",
            )
            models = {m.name: dict(m.provenance) for m in response.models}
            if self._model and self._model not in models:
                raise LookupError(
                    f"the segmenter at {self._endpoint.target} hosts {sorted(models)}, "
                    f"not {self._model!r}"
                )
            self._provenance = models[self._model] if self._model else next(iter(models.values()))
        return self._provenance


class RemoteEncoders:
    """Embeds with `names` at `precision` on an encoder service; `in_flight` requests are
    kept going at once so the service is never idle waiting on this client."""

    def __init__(
        self,
        endpoint: Endpoint,
        names: list[str],
        precision: str = "",
        deadline: float = 300.0,
        in_flight: int = 4,
    ):
        self._endpoint = endpoint
        self._stub = encoder_pb2_grpc.EncoderStub(open_channel(endpoint))
        self._names = names
        self._precision = precision
        self._deadline = deadline
        self._pool = ThreadPoolExecutor(max(1, in_flight), thread_name_prefix="encoder-rpc")
        self.in_flight = max(1, in_flight)

    def embed(self, patches: np.ndarray) -> dict[str, np.ndarray]:
        request = encoder_pb2.EmbedRequest(
            encoders=self._names, precision=self._precision, patches=wire.patches_to_proto(patches)
        )
        response = with_retries(
            lambda: self._stub.Embed(
                request, timeout=self._deadline, metadata=call_metadata(self._endpoint)
            ),
            f"encoder service at {self._endpoint.target}",
        )
        return {e.encoder: wire.embedding_from_proto(e) for e in response.embeddings}

    def submit(self, patches: np.ndarray) -> Future:
        return self._pool.submit(self.embed, patches.copy())

    def describe(self) -> dict[str, dict[str, Any]]:
        # Load (or confirm) the encoders with one tiny request, then read their facts.
        self.embed(np.zeros((1, 32, 32, 3), dtype=np.uint8))
        response = with_retries(
            lambda: self._stub.ListEncoders(
                encoder_pb2.ListEncodersRequest(),
                timeout=30,
                metadata=call_metadata(self._endpoint),
            ),
            f"encoder service at {self._endpoint.target}",
        )
        facts = {}
        for info in response.encoders:
            description = json.loads(info.description_json)
            if info.name in self._names and description.get("precision") == (
                self._precision or info.precision
            ):
                facts[info.name] = description
        missing = [n for n in self._names if n not in facts]
        if missing:
            raise LookupError(
                f"the encoder service at {self._endpoint.target} did not load {missing}"
            )
        return {name: facts[name] for name in self._names}
