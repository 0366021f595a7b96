"""A slide's patches as its own JPEG tiles, batch by batch, for a service to decode: the
client reads bytes and decodes nothing (see `atlaspatch_api.tiles`)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from atlaspatch.api.tiles import TiledBatch, TilePlacement, covering
from atlaspatch.api.wire import MAX_TILE_SIDE, MIN_TILE_SIDE
from atlaspatch.orchestrator.coordinates.geometry import PatchGeometry
from atlaspatch.orchestrator.slides.slide import SlideReader, SlideSource, open_slide


class TileBatches:
    def __init__(self, reader: SlideReader, geometry: PatchGeometry):
        assert reader.tiled is not None
        self._reader, self._tiles, self._geometry = reader, reader.tiled, geometry

    @classmethod
    def open(
        cls, source: SlideSource, geometry: PatchGeometry, xy: np.ndarray
    ) -> TileBatches | None:
        """None when some patch is not on a tiled-JPEG level's pixel grid, or its tiles are
        smaller or larger than a service takes (then the slide reader decodes, and pixels
        travel)."""
        reader = open_slide(source)
        tiles = reader.tiled
        aligned = tiles is not None and all(
            tiles.origin((int(x), int(y)), geometry.level) is not None for x, y in xy
        )
        if aligned:  # and its tiles of a size that services take
            codec, _ = tiles.level(geometry.level)  # type: ignore[union-attr]
            sides = (codec.tile_width, codec.tile_height)
            aligned = all(MIN_TILE_SIDE <= side <= MAX_TILE_SIDE for side in sides)
        if not aligned:
            reader.close()
            return None
        return cls(reader, geometry)

    def batches(self, xy: np.ndarray, batch_size: int) -> Iterator[TiledBatch]:
        for start in range(0, len(xy), batch_size):
            yield self.batch(xy[start : start + batch_size])

    def batch(self, xy: np.ndarray) -> TiledBatch:
        """The tiles under the patches at level-0 `xy`, each tile once."""
        g, tiles = self._geometry, self._tiles
        codec, level_size = tiles.level(g.level)
        read = (g.read_size, g.read_size)
        sent: dict[int, int] = {}  # tile index in the level -> index in the batch
        data: list[bytes] = []
        origins, placements = [], []
        for x, y in xy:
            origin = tiles.origin((int(x), int(y)), g.level)
            assert origin is not None  # checked in open
            placed = []
            for index, tile_x, tile_y in covering(*origin, read, level_size, codec):
                if index not in sent:
                    sent[index] = len(data)
                    data.append(tiles.tile_bytes(g.level, index))
                placed.append(TilePlacement(sent[index], tile_x, tile_y))
            origins.append(origin)
            placements.append(placed)
        return TiledBatch(codec, level_size, g.read_size, g.patch_size, data, origins, placements)

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> TileBatches:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
