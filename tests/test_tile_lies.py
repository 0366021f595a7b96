"""Tiles that lie: a JPEG header claiming a huge image, tiles nobody needs, and a few tiles
that decode to gigabytes. Each is refused, or costs nothing, before anything is decoded."""

from __future__ import annotations

import numpy as np
import pytest

from atlaspatch.api import wire
from atlaspatch.api.errors import InvalidInput
from atlaspatch.api.jpeg_frame import jpeg_frame
from atlaspatch.api.tiles import TileCodec, TiledBatch, TilePlacement, decode_batch
from atlaspatch.api.v1 import encoder_pb2

TILE = 256


def jpeg_tile(colour: tuple[int, int, int] = (200, 100, 150)) -> bytes:
    import imagecodecs

    pixels = np.empty((TILE, TILE, 3), np.uint8)
    pixels[...] = colour
    return imagecodecs.jpeg8_encode(pixels, level=90)


def claiming(data: bytes, width: int, height: int) -> bytes:
    """The same stream with its frame header rewritten to claim width x height."""
    at = next(i for i in range(2, len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xC0)
    lie = bytearray(data)
    lie[at + 5 : at + 7] = height.to_bytes(2, "big")
    lie[at + 7 : at + 9] = width.to_bytes(2, "big")
    return bytes(lie)


def batch_of(tiles: list[bytes], regions: list[tuple[int, int, list[int]]]) -> TiledBatch:
    """Regions of one tile's size at (x, y), each on the tiles of the level's first row."""
    placements = [[TilePlacement(i, i * TILE, 0) for i in named] for _, _, named in regions]
    return TiledBatch(
        TileCodec(TILE, TILE),
        (TILE * len(tiles), TILE),
        TILE,
        TILE,
        tiles,
        [(x, y) for x, y, _ in regions],
        placements,
    )


def test_the_frame_header_is_read_without_decoding() -> None:
    tile = jpeg_tile()
    assert jpeg_frame(tile) == jpeg_frame(claiming(tile, TILE, TILE))
    assert (jpeg_frame(tile).width, jpeg_frame(tile).height, jpeg_frame(tile).components) == (
        TILE,
        TILE,
        3,
    )
    lie = jpeg_frame(claiming(tile, 20000, 20000))
    assert (lie.width, lie.height) == (20000, 20000)
    with pytest.raises(InvalidInput, match="not a JPEG"):
        jpeg_frame(b"GIF89a" + tile)


def test_a_tile_claiming_another_size_is_refused_before_decoding() -> None:
    # 633 bytes claiming 20000x20000 added 1.1 GiB to the service before being refused.
    batch = batch_of([claiming(jpeg_tile(), 20000, 20000)], [(0, 0, [0])])
    with pytest.raises(InvalidInput, match="tile 0 claims 20000x20000 px; the level's tiles are"):
        decode_batch(batch)


def test_tiles_no_region_names_are_never_decoded() -> None:
    named, unnamed = jpeg_tile((10, 200, 30)), b"\xff\xd8 never decoded"
    batch = batch_of([named, unnamed, named], [(0, 0, [0]), (2 * TILE, 0, [2])])
    patches = decode_batch(batch)
    assert patches.shape == (2, TILE, TILE, 3)
    assert np.abs(patches.astype(int) - (10, 200, 30)).max() <= 3  # JPEG's rounding


def test_the_tiles_regions_name_count_against_the_decoding_budget() -> None:
    # Ten 1-px regions on forty tiles claiming the declared 4096x4096 were answered OK
    # after decoding 1.7 GiB.
    big = 4096
    message = encoder_pb2.TiledPatches(
        patch_size=1, read_size=1, level_width=big * 10, level_height=big,
        tile_width=big, tile_height=big,
    )  # fmt: skip
    message.tiles.extend([b"\xff\xd8" + bytes(631)] * 10)
    for i in range(10):
        message.regions.add(x=i * big, y=0, tiles=[i], tile_x=[i * big], tile_y=[0])
    with pytest.raises(InvalidInput, match="and the tiles they name .* would decode to"):
        wire.tiled_from_proto(message, max_decoded_bytes=256 * 2**20)
    # The same regions on tiles that were not scanned (empty) cost only their pixels.
    del message.tiles[:]
    message.tiles.extend([b""] * 10)
    assert len(wire.tiled_from_proto(message, max_decoded_bytes=256 * 2**20)) == 10


def test_tiles_smaller_than_slides_have_are_refused() -> None:
    # 1x1 tiles let one region name millions of placements (a 6 MB placement bomb).
    message = encoder_pb2.TiledPatches(
        patch_size=64, read_size=64, level_width=64, level_height=64, tile_width=1, tile_height=1
    )
    message.tiles.append(b"")
    message.regions.add(x=0, y=0, tiles=[0], tile_x=[0], tile_y=[0])
    with pytest.raises(InvalidInput, match="tile 1x1: sides must be 64 to 4096"):
        wire.tiled_from_proto(message)
