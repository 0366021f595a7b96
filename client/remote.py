"""Typed clients of the two services. They satisfy the same protocols as the in-process
adapters (client/segmenter.py, client/encoder.py), so the pipeline does not know which it has."""

from __future__ import annotations

import copy
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from atlaspatch.api import wire
from atlaspatch.api.buffers import keep_freed_buffers
from atlaspatch.api.encoder_facts import EncoderFacts
from atlaspatch.api.errors import NotFound
from atlaspatch.api.tiles import TiledBatch
from atlaspatch.api.v1 import encoder_pb2, encoder_pb2_grpc, segmenter_pb2, segmenter_pb2_grpc
from atlaspatch.client.channel import Endpoint, call_metadata, open_channel
from atlaspatch.client.pinned import PinnedEncoders
from atlaspatch.client.retry import LOAD_RETRYABLE, call_service

# Pixels per request: well under an encoder service's default message limit (64 MiB).
MAX_REQUEST_PIXEL_BYTES = 32 * 2**20


class RemoteSegmenter:
    def __init__(self, endpoint: Endpoint, model: str = "", deadline: float = 600.0):
        self._endpoint = endpoint
        self._what = f"segmenter at {endpoint.target}"
        self._stub = segmenter_pb2_grpc.SegmenterStub(open_channel(endpoint))
        self._model = model
        self._deadline = deadline
        self._provenance: dict[str, str] | None = None

    def segment(self, thumbnails: list[np.ndarray]) -> list[np.ndarray]:
        request = segmenter_pb2.SegmentRequest(
            model=self._model, thumbnails=[wire.image_to_proto(t) for t in thumbnails]
        )
        response = call_service(
            lambda: self._stub.Segment(
                request, timeout=self._deadline, metadata=call_metadata(self._endpoint)
            ),
            self._what,
            target=self._endpoint.target,
        )
        return [wire.mask_from_proto(m) for m in response.masks]

    def provenance(self) -> dict[str, str]:
        if self._provenance is None:
            response = list_models(self._stub, self._endpoint, self._what)
            models = {m.name: dict(m.provenance) for m in response.models}
            if self._model and self._model not in models:
                raise NotFound(f"the {self._what} hosts {sorted(models)}, not {self._model!r}")
            self._provenance = models[self._model] if self._model else next(iter(models.values()))
        return self._provenance


def list_models(
    stub: segmenter_pb2_grpc.SegmenterStub, endpoint: Endpoint, what: str
) -> segmenter_pb2.ListModelsResponse:
    """What the segmenter service at `endpoint` hosts: tissue and artifact models."""
    return call_service(
        lambda: stub.ListModels(
            segmenter_pb2.ListModelsRequest(), timeout=30, metadata=call_metadata(endpoint)
        ),
        what,
        target=endpoint.target,
    )


class RemoteEncoders:
    """Embeds with `names` at `precision` on an encoder service; `in_flight` requests are
    kept going at once so the service is never idle waiting on this client (requests of
    tiles are small, and the service decodes them before it embeds: a deep pipeline).
    The precision and weights of each encoder are pinned at first sight (pinned.py)."""

    def __init__(
        self,
        endpoint: Endpoint,
        names: list[str],
        precision: str = "",
        deadline: float = 300.0,
        in_flight: int = 12,
        tiles: bool = True,
    ):
        self._endpoint = endpoint
        self._what = f"encoder service at {endpoint.target}"
        self._stub = encoder_pb2_grpc.EncoderStub(open_channel(endpoint))
        self.names = names
        self._precision = precision
        self._pinned = PinnedEncoders(self._what)  # shared with the subsets of `only`
        # Facts by encoder and precision as the service first gave them, shared with the
        # subsets of `only`: a rerun over finished slides asks the service once, not per slide.
        self._known: dict[tuple[str, str], EncoderFacts] = {}
        self._deadline = deadline
        self._pool = ThreadPoolExecutor(max(1, in_flight), thread_name_prefix="encoder-rpc")
        self.in_flight = max(1, in_flight)
        # The slide's own JPEG tiles where it has them: a tenth of the bytes, no decoding here.
        self.accepts_tiles = tiles
        keep_freed_buffers()  # each request is a fresh buffer of megabytes

    def embed(self, patches: np.ndarray | TiledBatch) -> dict[str, np.ndarray]:
        return self._send_all(self._requests(patches))

    def submit(self, patches: np.ndarray | TiledBatch) -> Future:
        # The requests hold their own copy of the pixels: the caller may reuse `patches` at once.
        return self._pool.submit(self._send_all, self._requests(patches))

    def _requests(self, patches: np.ndarray | TiledBatch) -> list[encoder_pb2.EmbedRequest]:
        """One request, or several where the pixels would pass the services' message limit."""
        if isinstance(patches, TiledBatch):
            request = self._empty_request()
            wire.tiled_to_proto(patches, into=request.tiled)
            return [request]
        per_request = max(1, MAX_REQUEST_PIXEL_BYTES // max(1, patches[:1].nbytes))
        requests = []
        for start in range(0, len(patches), per_request):
            request = self._empty_request()
            wire.patches_to_proto(patches[start : start + per_request], into=request.patches)
            requests.append(request)
        return requests

    def _empty_request(self) -> encoder_pb2.EmbedRequest:
        precision = self._precision or self._pinned.precision()
        return encoder_pb2.EmbedRequest(encoders=self.names, precision=precision)

    def _send_all(self, requests: list[encoder_pb2.EmbedRequest]) -> dict[str, np.ndarray]:
        parts = [self._send(request) for request in requests]
        if len(parts) == 1:
            return parts[0]
        return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}

    def _send(self, request: encoder_pb2.EmbedRequest) -> dict[str, np.ndarray]:
        response = call_service(
            lambda: self._stub.Embed(
                request, timeout=self._deadline, metadata=call_metadata(self._endpoint)
            ),
            self._what,
            target=self._endpoint.target,
        )
        for embedding in response.embeddings:
            self._pinned.check(embedding.encoder, embedding.precision, embedding.weights_sha256)
        return {e.encoder: wire.embedding_from_proto(e) for e in response.embeddings}

    def describe(self) -> dict[str, EncoderFacts]:
        precision = self._precision or self._pinned.precision()
        request = encoder_pb2.LoadRequest(encoders=self.names, precision=precision)
        # Loading may read gigabytes of weights: a generous deadline.
        response = call_service(
            lambda: self._stub.Load(request, timeout=600, metadata=call_metadata(self._endpoint)),
            self._what,
            LOAD_RETRYABLE,
            target=self._endpoint.target,
        )
        for info in response.encoders:
            self._pinned.check(info.name, info.precision, info.weights_sha256)
        facts = [EncoderFacts.from_json(info.description_json) for info in response.encoders]
        return dict(zip(self.names, facts, strict=True))

    def known_facts(self) -> dict[str, EncoderFacts]:
        """The service loads them: nothing is loaded here."""
        keys = self._fact_keys()
        if not all(key in self._known for key in keys):
            facts = self.describe()  # which may pin the precision: the keys after it
            self._known.update(zip(self._fact_keys(), facts.values(), strict=True))
            return facts
        return {name: self._known[key] for name, key in zip(self.names, keys, strict=True)}

    def _fact_keys(self) -> list[tuple[str, str]]:
        precision = self._precision or self._pinned.precision()
        return [(name, precision) for name in self.names]

    def check(self) -> None:
        self.known_facts()  # the facts the run's decisions then use

    def only(self, names: list[str]) -> RemoteEncoders:
        subset = copy.copy(self)  # the same channel and request threads
        subset.names = names
        return subset
