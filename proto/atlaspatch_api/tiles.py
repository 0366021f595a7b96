"""Patches as a slide's own JPEG tiles: the compact form of a batch on the wire.

A tiled-JPEG pyramid level (SVS, tiled TIFF) already holds every patch compressed. A client
sends the tiles under a batch's patches, each once (about a tenth of the raw pixels' bytes,
and it decodes nothing); the service decodes them, cuts the patches out and resizes them.
The slide reader decodes with the same functions, so a patch is the same pixels in process
and through a service.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from atlaspatch.api.errors import InvalidInput
from atlaspatch.api.jpeg_frame import jpeg_frame

WHITE = 255  # where nothing was scanned: a sparse tile, or outside the level


@dataclass(frozen=True)
class TileCodec:
    """How a level's tiles decode: their size, JPEG tables and colour spaces (as tifffile
    decodes them; -1 leaves a colour space to libjpeg)."""

    tile_width: int
    tile_height: int
    jpeg_tables: bytes = b""
    colorspace: int = -1
    outcolorspace: int = -1

    def decode(self, data: bytes) -> np.ndarray:
        """(tile_height, tile_width, 3) uint8 RGB."""
        import imagecodecs

        pixels = imagecodecs.jpeg_decode(
            data,
            bitspersample=8,
            tables=self.jpeg_tables or None,
            colorspace=None if self.colorspace < 0 else self.colorspace,
            outcolorspace=None if self.outcolorspace < 0 else self.outcolorspace,
            shape=(self.tile_height, self.tile_width),
        )
        return pixels.reshape(pixels.shape[-3:])[..., :3]


@dataclass(frozen=True)
class TilePlacement:
    """A tile of a region: which tile, and its top-left in the level's pixels."""

    tile: int  # index into the batch's (or the level's) tiles
    x: int
    y: int


def assemble(
    x0: int,
    y0: int,
    size: tuple[int, int],
    level_size: tuple[int, int],
    codec: TileCodec,
    placements: Sequence[TilePlacement],
    decoded: Mapping[int, np.ndarray | None] | Sequence[np.ndarray | None],
) -> np.ndarray:
    """The region of `size` (width, height) at (x0, y0) from its decoded tiles (None: not
    scanned)."""
    (w, h), (width, height) = size, level_size
    inside = x0 >= 0 and y0 >= 0 and x0 + w <= width and y0 + h <= height
    # Every pixel of a region inside the level is overwritten; outside the scan is white.
    out = np.empty((h, w, 3), np.uint8) if inside else np.full((h, w, 3), WHITE, np.uint8)
    for place in placements:
        left, top = max(place.x, x0), max(place.y, y0)
        right = min(place.x + codec.tile_width, x0 + w, width)
        bottom = min(place.y + codec.tile_height, y0 + h, height)
        if right <= left or bottom <= top:
            continue
        region = out[top - y0 : bottom - y0, left - x0 : right - x0]
        tile = decoded[place.tile]
        if tile is None:
            region[...] = WHITE
        else:
            region[...] = tile[top - place.y : bottom - place.y, left - place.x : right - place.x]
    return out


def covering(
    x0: int, y0: int, size: tuple[int, int], level_size: tuple[int, int], codec: TileCodec
) -> list[tuple[int, int, int]]:
    """(tile index in the level, tile x, tile y) of the tiles under a region of `size`
    (width, height), row by row."""
    (w, h), (width, height) = size, level_size
    across = -(-width // codec.tile_width)
    first_col, first_row = max(0, x0) // codec.tile_width, max(0, y0) // codec.tile_height
    last_col = (min(width, x0 + w) - 1) // codec.tile_width
    last_row = (min(height, y0 + h) - 1) // codec.tile_height
    return [
        (row * across + col, col * codec.tile_width, row * codec.tile_height)
        for row in range(first_row, last_row + 1)
        for col in range(first_col, last_col + 1)
    ]


@dataclass(frozen=True)
class TiledBatch:
    """A batch of patches as JPEG tiles: each region of `read_size` at `origins[i]` is cut
    from `tiles` by `placements[i]` and resized to `patch_size`."""

    codec: TileCodec
    level_size: tuple[int, int]
    read_size: int
    patch_size: int
    tiles: list[bytes]  # each tile once; b"": not scanned (white)
    origins: list[tuple[int, int]]
    placements: list[list[TilePlacement]]

    def __len__(self) -> int:
        return len(self.origins)

    @property
    def nbytes(self) -> int:
        return sum(len(tile) for tile in self.tiles)

    @property
    def decoded_bytes(self) -> int:
        """What decoding holds at most: the patches at their larger side (read or patch),
        and every tile a region names."""
        side = max(self.read_size, self.patch_size)
        named = {p.tile for places in self.placements for p in places if self.tiles[p.tile]}
        tile = self.codec.tile_width * self.codec.tile_height * 3
        return len(self) * side * side * 3 + len(named) * tile


def decode_batch(batch: TiledBatch, pool: Executor | None = None) -> np.ndarray:
    """(n, patch_size, patch_size, 3) uint8; tiles decoded on `pool` (libjpeg releases the
    GIL), the same pixels as the slide reader gives.

    Every tile a region names is checked by its JPEG header first (a tile that claims
    another size is refused before anything is decoded); tiles no region names are never
    decoded, the regions are cut a few at a time, and each tile is released after its last
    region."""
    import cv2

    last_use = {place.tile: i for i, places in enumerate(batch.placements) for place in places}
    check_frames(batch, last_use)
    decoded: dict[int, np.ndarray | None] = {}
    size = batch.patch_size
    out = np.empty((len(batch), size, size, 3), np.uint8)
    for start in range(0, len(batch), REGIONS_AT_ONCE):
        chunk = range(start, min(len(batch), start + REGIONS_AT_ONCE))
        wanted = sorted({p.tile for i in chunk for p in batch.placements[i]} - decoded.keys())
        decoded.update(zip(wanted, _decode_tiles(batch, wanted, pool), strict=True))
        for index in chunk:
            read = (batch.read_size, batch.read_size)
            region = assemble(
                *batch.origins[index],
                read,
                batch.level_size,
                batch.codec,
                batch.placements[index],
                decoded,
            )
            if batch.read_size != size:
                region = cv2.resize(region, (size, size), interpolation=cv2.INTER_LINEAR)
            out[index] = region
        for tile in [tile for tile in decoded if last_use[tile] < chunk.stop]:
            del decoded[tile]
    return out


# Regions cut per round of decoding: enough tiles at once to keep every decoding core busy.
REGIONS_AT_ONCE = 32


def check_frames(batch: TiledBatch, tiles: Iterable[int]) -> None:
    """Each of `tiles` (indices into the batch) is empty or a JPEG stream of the level's
    tile size."""
    codec = batch.codec
    for index in tiles:
        data = batch.tiles[index]
        if not data:
            continue
        frame = jpeg_frame(data)
        if (frame.width, frame.height) != (codec.tile_width, codec.tile_height):
            raise InvalidInput(
                f"tile {index} claims {frame.width}x{frame.height} px; the level's tiles are "
                f"{codec.tile_width}x{codec.tile_height}"
            )
        if frame.components not in (1, 3, 4):
            raise InvalidInput(f"tile {index} claims {frame.components} colour components")


def _decode_tiles(
    batch: TiledBatch, indices: list[int], pool: Executor | None
) -> list[np.ndarray | None]:
    decode = batch.codec.decode
    shape = (batch.codec.tile_height, batch.codec.tile_width, 3)

    def one(index: int) -> np.ndarray | None:
        data = batch.tiles[index]
        return decode(data) if data else None

    try:
        tiles = list((pool.map if pool is not None else map)(one, indices))
    except Exception as exc:  # a corrupt or truncated tile from the wire
        raise InvalidInput(f"a tile does not decode: {exc}") from exc
    if any(tile is not None and tile.shape != shape for tile in tiles):
        raise InvalidInput(f"a tile does not decode to {shape[1]}x{shape[0]} RGB")
    return tiles
