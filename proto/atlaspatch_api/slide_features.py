"""One slide's patch features as slide and patient encoders read them, and their way over the
wire: a start message with every slide's geometry, then the rows in chunks. Shared by the
client that sends them and the service that assembles them, so both agree byte for byte."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from atlaspatch.api.errors import InvalidInput, shown
from atlaspatch.api.v1 import encoder_pb2

# Rows per message: 8 MiB of 2,560-d features, far below any message limit.
CHUNK_BYTES = 8 * 2**20
COORD_BYTES = 16  # x and y, int64


@dataclass(frozen=True)
class PatchData:
    name: str  # the slide's, for messages
    features: np.ndarray  # float32 (N, D)
    xy: np.ndarray  # int64 (N, 2), the patches' level-0 top-left corners
    patch_size: int
    patch_size_level0: int
    target_magnification: float

    @property
    def num_patches(self) -> int:
        return int(self.features.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.features.nbytes + self.xy.nbytes)


@dataclass(frozen=True)
class SlideEncoderInfo:
    """What computes a slide or patient embedding: the provenance a client pins and keeps."""

    name: str
    embedding_dim: int | None  # None: that of the patch features it reads (the mean pool)
    patch_encoder: str
    precision: str
    weights_sha256: str  # "": it has no weights
    facts: dict[str, Any] = field(default_factory=dict)  # the catalogue's, for the record

    def to_proto(self) -> encoder_pb2.SlideEncoderInfo:
        return encoder_pb2.SlideEncoderInfo(
            name=self.name,
            embedding_dim=self.embedding_dim or 0,
            patch_encoder=self.patch_encoder,
            precision=self.precision,
            weights_sha256=self.weights_sha256,
            description_json=json.dumps(self.facts, sort_keys=True, default=str),
        )

    @classmethod
    def from_proto(cls, message: encoder_pb2.SlideEncoderInfo) -> SlideEncoderInfo:
        return cls(
            message.name,
            message.embedding_dim or None,
            message.patch_encoder,
            message.precision,
            message.weights_sha256,
            json.loads(message.description_json or "{}"),
        )


def embedding_to_proto(vector: np.ndarray, info: SlideEncoderInfo) -> encoder_pb2.SlideEmbedding:
    vector = np.ascontiguousarray(vector, dtype="<f4").ravel()
    return encoder_pb2.SlideEmbedding(
        encoder=info.to_proto(), dim=len(vector), values=vector.tobytes()
    )


def embedding_from_proto(message: encoder_pb2.SlideEmbedding) -> np.ndarray:
    values = message.values
    if message.dim == 0 or len(values) != message.dim * 4:
        raise InvalidInput(f"a {message.dim}-d slide embedding of {len(values)} bytes")
    return np.frombuffer(values, "<f4").astype(np.float32)


def request_messages(
    start: encoder_pb2.LoadSlideEncoderRequest, slides: Sequence[PatchData]
) -> Iterator[encoder_pb2.EmbedSlidesRequest]:
    """The stream of an EmbedSlides call: the start, then each slide's rows in chunks."""
    first = encoder_pb2.SlidesStart(encoder=start)
    for data in slides:
        first.slides.add(
            name=data.name,
            rows=data.num_patches,
            dim=data.features.shape[1],
            patch_size=data.patch_size,
            patch_size_level0=data.patch_size_level0,
            target_magnification=data.target_magnification,
        )
    yield encoder_pb2.EmbedSlidesRequest(start=first)
    for index, data in enumerate(slides):
        features = np.ascontiguousarray(data.features, dtype="<f4")
        xy = np.ascontiguousarray(data.xy, dtype="<i8")
        step = max(1, CHUNK_BYTES // (features.shape[1] * 4 + COORD_BYTES))
        for begin in range(0, len(features), step):
            rows = encoder_pb2.FeatureRows(
                slide=index,
                count=len(features[begin : begin + step]),
                features=features[begin : begin + step].tobytes(),
                coords=xy[begin : begin + step].tobytes(),
            )
            yield encoder_pb2.EmbedSlidesRequest(rows=rows)


def announced_bytes(start: encoder_pb2.SlidesStart) -> int:
    """What the slides announced in `start` hold once assembled."""
    return sum(slide.rows * (slide.dim * 4 + COORD_BYTES) for slide in start.slides)


class SlidesAssembly:
    """The slides of one EmbedSlides call, filled from its messages and checked on the way:
    every slide announced, its rows in order, no more and no fewer than announced."""

    def __init__(self, start: encoder_pb2.SlidesStart, patient: bool):
        if not start.slides:
            raise InvalidInput("no slides to embed")
        if len(start.slides) > 1 and not patient:
            raise InvalidInput(f"{len(start.slides)} slides sent to a slide encoder: one a call")
        for slide in start.slides:
            if slide.rows == 0 or slide.dim == 0:
                raise InvalidInput(f"slide {shown(slide.name)} has no patch features")
        self._geometry = list(start.slides)
        self._features = [np.empty((s.rows, s.dim), np.float32) for s in self._geometry]
        self._xy = [np.empty((s.rows, 2), np.int64) for s in self._geometry]
        self._filled = [0] * len(self._geometry)
        self._current = 0

    def add(self, rows: encoder_pb2.FeatureRows) -> None:
        index = rows.slide
        if index >= len(self._geometry) or index < self._current:
            raise InvalidInput(f"rows of slide {index}, out of order or never announced")
        self._current = index
        geometry, begin = self._geometry[index], self._filled[index]
        end = begin + rows.count
        features, coords = rows.features, rows.coords
        if end > geometry.rows:
            raise InvalidInput(
                f"slide {shown(geometry.name)}: more than the {geometry.rows} rows announced"
            )
        if len(features) != rows.count * geometry.dim * 4 or len(coords) != rows.count * 16:
            raise InvalidInput(
                f"slide {shown(geometry.name)}: {rows.count} rows of {geometry.dim} features "
                f"need {rows.count * geometry.dim * 4} + {rows.count * 16} bytes, got "
                f"{len(features)} + {len(coords)}"
            )
        shape = (rows.count, geometry.dim)
        self._features[index][begin:end] = np.frombuffer(features, "<f4").reshape(shape)
        self._xy[index][begin:end] = np.frombuffer(coords, "<i8").reshape(rows.count, 2)
        self._filled[index] = end

    def slides(self) -> list[PatchData]:
        pairs = zip(self._geometry, self._filled, strict=True)
        short = [geometry.name for geometry, filled in pairs if filled < geometry.rows]
        if short:
            raise InvalidInput(f"the call ended before all rows of {shown(', '.join(short))}")
        return [
            PatchData(
                g.name,
                features,
                xy,
                int(g.patch_size),
                int(g.patch_size_level0),
                float(g.target_magnification),
            )
            for g, features, xy in zip(self._geometry, self._features, self._xy, strict=True)
        ]
