"""Tiled requests that lie, for bench/load.py: a tile whose JPEG header claims a huge image,
small tiles that claim the level's 4096 px and are named by 1-px regions, a region naming
one 1x1 tile two million times, and regions naming every 64 px tile under 4096 px."""

from __future__ import annotations

import numpy as np

from atlaspatch.api.v1 import encoder_pb2


def _jpeg(side: int) -> bytes:
    import imagecodecs

    return imagecodecs.jpeg8_encode(np.full((side, side, 3), 180, np.uint8), level=90)


def _claiming(data: bytes, width: int, height: int) -> bytes:
    at = next(i for i in range(2, len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xC0)
    lie = bytearray(data)
    lie[at + 5 : at + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(lie)


def _tiled(encoder: str, **sizes: int) -> encoder_pb2.EmbedRequest:
    request = encoder_pb2.EmbedRequest(encoders=[encoder])
    for field, value in sizes.items():
        setattr(request.tiled, field, value)
    return request


def tile_lie(encoder: str) -> encoder_pb2.EmbedRequest:
    """One 256 px tile whose header claims 20000x20000 px (1.1 GiB once decoded)."""
    request = _tiled(encoder, patch_size=224, read_size=256, level_width=256, level_height=256,
                     tile_width=256, tile_height=256)  # fmt: skip
    request.tiled.tiles.append(_claiming(_jpeg(256), 20000, 20000))
    request.tiled.regions.add(x=0, y=0, tiles=[0], tile_x=[0], tile_y=[0])
    return request


def tile_amplification(encoder: str) -> encoder_pb2.EmbedRequest:
    """Forty small tiles claiming the declared 4096 px, under ten 1-px regions (1.7 GiB)."""
    side = 4096
    request = _tiled(encoder, patch_size=1, read_size=1, level_width=side * 40,
                     level_height=side, tile_width=side, tile_height=side)  # fmt: skip
    small = _claiming(_jpeg(16), side, side)
    request.tiled.tiles.extend([small] * 40)
    for i in range(10):
        request.tiled.regions.add(x=i * side, y=0, tiles=[i], tile_x=[i * side], tile_y=[0])
    return request


def placement_bomb(encoder: str) -> encoder_pb2.EmbedRequest:
    """One region naming one 1x1 tile two million times (a 6 MB request)."""
    request = _tiled(encoder, patch_size=224, read_size=224, level_width=224, level_height=224,
                     tile_width=1, tile_height=1)  # fmt: skip
    request.tiled.tiles.append(b"")
    count = 2_000_000
    request.tiled.regions.add(x=0, y=0, tiles=[0] * count, tile_x=[0] * count, tile_y=[0] * count)
    return request


def grid_bomb(encoder: str, regions: int = 20) -> encoder_pb2.EmbedRequest:
    """Regions of 4096 px each naming every 64 px tile under it (unscanned, so white): the
    most placements (85,000) and pixels (1 GB) a request may ask for."""
    side, tile = 4096, 64
    request = _tiled(encoder, patch_size=224, read_size=side, level_width=side,
                     level_height=side, tile_width=tile, tile_height=tile)  # fmt: skip
    request.tiled.tiles.append(b"")
    grid = np.arange(0, side, tile)
    xs, ys = np.meshgrid(grid, grid)
    for _ in range(regions):
        request.tiled.regions.add(
            x=0, y=0, tiles=[0] * xs.size, tile_x=xs.ravel().tolist(), tile_y=ys.ravel().tolist()
        )
    return request
