"""numpy arrays <-> atlaspatch.v1 messages, checked on the way in. Shared by clients and
servers so both ends agree byte for byte.

Each read of a protobuf bytes field copies it (megabytes for a batch of patches): read once."""

from __future__ import annotations

import numpy as np

from atlaspatch.api.errors import InvalidInput
from atlaspatch.api.tiles import TileCodec, TiledBatch, TilePlacement
from atlaspatch.api.v1 import encoder_pb2, segmenter_pb2


def image_to_proto(image: np.ndarray) -> segmenter_pb2.RgbImage:
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if image.ndim != 3 or image.shape[2] != 3:
        raise InvalidInput(f"an RGB image must be (h, w, 3), not {image.shape}")
    return segmenter_pb2.RgbImage(
        height=image.shape[0], width=image.shape[1], pixels=image.tobytes()
    )


def image_from_proto(message: segmenter_pb2.RgbImage) -> np.ndarray:
    pixels = message.pixels
    expected = message.height * message.width * 3
    if message.height == 0 or message.width == 0 or len(pixels) != expected:
        raise InvalidInput(
            f"image {message.height}x{message.width} needs {expected} bytes, got {len(pixels)}"
        )
    return np.frombuffer(pixels, np.uint8).reshape(message.height, message.width, 3)


def mask_to_proto(mask: np.ndarray) -> segmenter_pb2.Mask:
    bits = np.packbits(np.asarray(mask, dtype=bool).ravel())
    return segmenter_pb2.Mask(height=mask.shape[0], width=mask.shape[1], packed_bits=bits.tobytes())


def mask_from_proto(message: segmenter_pb2.Mask) -> np.ndarray:
    count, packed = message.height * message.width, message.packed_bits
    if len(packed) != (count + 7) // 8:
        raise InvalidInput(f"mask {message.height}x{message.width} has {len(packed)} bytes")
    bits = np.unpackbits(np.frombuffer(packed, np.uint8), count=count)
    return bits.reshape(message.height, message.width).astype(bool)


def patches_to_proto(
    patches: np.ndarray, into: encoder_pb2.PatchBatch | None = None
) -> encoder_pb2.PatchBatch:
    """The batch as a message, or written `into` one (a field of a request: filling it in
    place spares a copy of the pixels)."""
    patches = np.ascontiguousarray(patches, dtype=np.uint8)
    if patches.ndim != 4 or patches.shape[3] != 3:
        raise InvalidInput(f"patches must be (n, h, w, 3) uint8, not {patches.shape}")
    message = encoder_pb2.PatchBatch() if into is None else into
    message.count, message.height, message.width = patches.shape[:3]
    message.pixels = patches.tobytes()
    return message


def patches_from_proto(message: encoder_pb2.PatchBatch) -> np.ndarray:
    """(count, height, width, 3) uint8, read-only (it is the message's bytes)."""
    shape = (message.count, message.height, message.width, 3)
    if 0 in shape:
        raise InvalidInput("an empty patch batch")
    pixels = message.pixels
    expected = shape[0] * shape[1] * shape[2] * 3
    if len(pixels) != expected:
        raise InvalidInput(
            f"{shape[0]} patches of {shape[1]}x{shape[2]}x3 need {expected} bytes, "
            f"got {len(pixels)}"
        )
    return np.frombuffer(pixels, np.uint8).reshape(shape)


def embedding_to_proto(
    name: str, matrix: np.ndarray, precision: str = "", weights_sha256: str = ""
) -> encoder_pb2.Embedding:
    matrix = np.ascontiguousarray(matrix, dtype="<f4")
    return encoder_pb2.Embedding(
        encoder=name,
        rows=matrix.shape[0],
        dim=matrix.shape[1],
        values=matrix.tobytes(),
        precision=precision,
        weights_sha256=weights_sha256,
    )


def embedding_from_proto(message: encoder_pb2.Embedding) -> np.ndarray:
    values, shape = message.values, (message.rows, message.dim)
    if len(values) != shape[0] * shape[1] * 4:
        raise InvalidInput(
            f"embedding {message.encoder}: {len(values)} bytes for {shape[0]}x{shape[1]}"
        )
    return np.frombuffer(values, "<f4").reshape(shape).astype(np.float32)


# Bounds on what a tiled request may ask the service to decode and hold. Slides' tiles are
# 240 to 1024 px; smaller ones would only multiply the placements a request may name (with
# 64 px tiles, and the decoding budget, at most about 110,000 in one request). A client
# sends the pixels of slides whose tiles are outside these bounds.
MIN_TILE_SIDE = 64
MAX_TILE_SIDE = 4096
MAX_READ_SIDE = 8192
MAX_PATCH_SIDE = 4096


def tiled_to_proto(batch: TiledBatch, into: encoder_pb2.TiledPatches) -> None:
    codec = batch.codec
    into.patch_size, into.read_size = batch.patch_size, batch.read_size
    into.level_width, into.level_height = batch.level_size
    into.tile_width, into.tile_height = codec.tile_width, codec.tile_height
    into.jpeg_tables = codec.jpeg_tables
    into.colorspace, into.outcolorspace = codec.colorspace, codec.outcolorspace
    into.tiles.extend(batch.tiles)
    for (x, y), placements in zip(batch.origins, batch.placements, strict=True):
        into.regions.add(
            x=x,
            y=y,
            tiles=[p.tile for p in placements],
            tile_x=[p.x for p in placements],
            tile_y=[p.y for p in placements],
        )


def tiled_from_proto(
    message: encoder_pb2.TiledPatches,
    max_count: int | None = None,
    max_decoded_bytes: int | None = None,
) -> TiledBatch:
    """The batch, checked before anything is decoded: sizes within bounds, at most
    `max_count` patches, each region placing tiles of the level's grid that it overlaps,
    each once, and its patches plus every tile they name decoding to at most
    `max_decoded_bytes` (a few JPEG tiles named by many regions, or tiles claiming to be
    huge, would otherwise decode to gigabytes). Costs time in proportion to the message:
    call it off an event loop."""
    tile_w, tile_h = message.tile_width, message.tile_height
    sides = {
        "tile": (tile_w, tile_h, MIN_TILE_SIDE, MAX_TILE_SIDE),
        "region": (message.read_size, message.read_size, 1, MAX_READ_SIDE),
        "patch": (message.patch_size, message.patch_size, 1, MAX_PATCH_SIDE),
    }
    for what, (width, height, least, most) in sides.items():
        if not (least <= width <= most and least <= height <= most):
            raise InvalidInput(f"{what} {width}x{height}: sides must be {least} to {most}")
    if not message.regions:
        raise InvalidInput("an empty patch batch")
    if max_count is not None and len(message.regions) > max_count:
        raise InvalidInput(f"{len(message.regions)} patches in one request; at most {max_count}")
    side = max(message.read_size, message.patch_size)
    decoded = len(message.regions) * side * side * 3
    if max_decoded_bytes is not None and decoded > max_decoded_bytes:
        raise InvalidInput(
            f"{len(message.regions)} regions of {side}x{side} px would decode to "
            f"{decoded:,} bytes; at most {max_decoded_bytes:,}"
        )
    tiles = list(message.tiles)
    level = (message.level_width, message.level_height)
    placements = [
        _placements(region, message.read_size, level, tile_w, tile_h, len(tiles))
        for region in message.regions
    ]
    codec = TileCodec(
        tile_w, tile_h, message.jpeg_tables, message.colorspace, message.outcolorspace
    )
    batch = TiledBatch(
        codec,
        level,
        message.read_size,
        message.patch_size,
        tiles,
        [(region.x, region.y) for region in message.regions],
        placements,
    )
    if max_decoded_bytes is not None and batch.decoded_bytes > max_decoded_bytes:
        raise InvalidInput(
            f"{len(batch)} regions of {side}x{side} px and the tiles they name "
            f"({tile_w}x{tile_h} px each) would decode to {batch.decoded_bytes:,} bytes; "
            f"at most {max_decoded_bytes:,}"
        )
    return batch


def _placements(
    region: encoder_pb2.TileRegion,
    read_size: int,
    level: tuple[int, int],
    tile_w: int,
    tile_h: int,
    sent: int,
) -> list[TilePlacement]:
    """A region's tiles: positions on the level's tile grid, inside the level, under the
    region, each once (so at most what the region's geometry allows)."""
    count = len(region.tiles)
    if not count == len(region.tile_x) == len(region.tile_y):
        raise InvalidInput("a region's tiles, tile_x and tile_y differ in length")
    most = (-(-read_size // tile_w) + 1) * (-(-read_size // tile_h) + 1)
    if count > most:
        raise InvalidInput(f"a region on {count} tiles; at most {most}")
    x0, y0 = region.x, region.y
    places = [
        TilePlacement(*p) for p in zip(region.tiles, region.tile_x, region.tile_y, strict=True)
    ]
    for place in places:
        if place.tile >= sent:
            raise InvalidInput(f"a region names a tile beyond the {sent} sent")
        on_grid = place.x % tile_w == 0 and place.y % tile_h == 0
        inside = 0 <= place.x < level[0] and 0 <= place.y < level[1]
        under = (
            place.x < x0 + read_size
            and x0 < place.x + tile_w
            and place.y < y0 + read_size
            and y0 < place.y + tile_h
        )
        if not (on_grid and inside and under):
            raise InvalidInput(
                f"a tile at ({place.x}, {place.y}) is not a tile of the level under the "
                f"region at ({x0}, {y0})"
            )
    if len({(p.x, p.y) for p in places}) != count:
        raise InvalidInput("a region places two tiles at one position")
    return places
