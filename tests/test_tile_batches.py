"""Patches sent as the slide's own JPEG tiles: the service makes exactly the pixels the slide
reader makes, from a tenth of the bytes, and refuses malformed tiles."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from atlaspatch.api import wire
from atlaspatch.api.errors import InvalidInput
from atlaspatch.api.tiles import TiledBatch, decode_batch
from atlaspatch.api.v1 import encoder_pb2
from atlaspatch.orchestrator.coordinates.geometry import PatchGeometry
from atlaspatch.orchestrator.slides.discovery import discover_slides
from atlaspatch.orchestrator.slides.patches import PatchReader
from atlaspatch.orchestrator.slides.tile_batches import TileBatches
from tests.conftest import SLIDES


def geometry(level: int, read_size: int, patch_size: int = 256) -> PatchGeometry:
    return PatchGeometry(patch_size, patch_size, 20, 20, level, read_size, read_size, read_size)


def read_both(path: Path, g: PatchGeometry, xy: np.ndarray) -> tuple[np.ndarray, TiledBatch]:
    source = discover_slides(path)[0]
    with PatchReader(source, g, 2) as reader:
        pixels = np.stack([reader.read(int(x), int(y)) for x, y in xy])
    tiles = TileBatches.open(source, g, xy)
    assert tiles is not None
    with tiles:
        return pixels, tiles.batch(xy)


def through_the_wire(batch: TiledBatch) -> TiledBatch:
    message = encoder_pb2.TiledPatches()
    wire.tiled_to_proto(batch, into=message)
    return wire.tiled_from_proto(encoder_pb2.TiledPatches.FromString(message.SerializeToString()))


@pytest.mark.shared_data
@pytest.mark.parametrize("read_size", [256, 512])
def test_tiles_give_the_slide_readers_pixels(read_size: int) -> None:
    """A real Aperio SVS: 240 px tiles under unaligned patches, a resize when read_size
    differs, patches over the edge."""
    rng = np.random.default_rng(read_size)
    xy = np.column_stack([rng.integers(-100, 2220, 24), rng.integers(-100, 2967, 24)])
    xy[0] = 2220 - 50, 2967 - 50  # mostly outside the scan: white
    pixels, batch = read_both(SLIDES / "CMU-1-Small-Region.svs", geometry(0, read_size), xy)
    with ThreadPoolExecutor(2) as pool:
        assert np.array_equal(decode_batch(through_the_wire(batch), pool), pixels)
    assert len(batch.tiles) == len(set(batch.tiles))  # each tile once


@pytest.mark.parametrize(("level", "read_size", "fraction"), [(0, 256, 0.2), (1, 300, 0.5)])
def test_tiles_are_a_fraction_of_the_pixels(
    synthetic_slide, level: int, read_size: int, fraction: float
) -> None:
    """The same pixels from a fraction of the bytes (less of a saving when the regions are
    larger than the patches and resized, as for 20x patches from a 40x level)."""
    xy = np.array([(x, 3000) for x in range(1024, 6144, 512)])
    pixels, batch = read_both(synthetic_slide.path, geometry(level, read_size), xy)
    assert np.array_equal(decode_batch(through_the_wire(batch)), pixels)
    request = encoder_pb2.EmbedRequest(encoders=["efficientnet_lite0"])
    wire.tiled_to_proto(batch, into=request.tiled)
    assert request.ByteSize() < pixels.nbytes * fraction


def test_slides_without_tiled_jpeg_levels_send_pixels(tmp_path: Path) -> None:
    from PIL import Image

    image = tmp_path / "plain.png"
    Image.fromarray(np.full((600, 600, 3), 200, np.uint8)).save(image)
    source = discover_slides(image)[0]
    assert TileBatches.open(source, geometry(0, 256), np.array([(0, 0)])) is None


def test_positions_between_a_levels_pixels_send_pixels(synthetic_slide) -> None:
    source = discover_slides(synthetic_slide.path)[0]
    # Level 1 is 4x smaller: x = 2 falls between its pixels.
    assert TileBatches.open(source, geometry(1, 64), np.array([(0, 0), (2, 0)])) is None
    assert TileBatches.open(source, geometry(1, 64), np.array([(0, 0), (4, 0)])) is not None


def test_malformed_tiled_requests_are_invalid(synthetic_slide) -> None:
    _, batch = read_both(synthetic_slide.path, geometry(0, 256), np.array([(2048, 2048)]))
    message = encoder_pb2.TiledPatches()
    wire.tiled_to_proto(batch, into=message)

    beyond = encoder_pb2.TiledPatches()
    beyond.CopyFrom(message)
    beyond.regions[0].tiles[0] = len(message.tiles)
    huge = encoder_pb2.TiledPatches()
    huge.CopyFrom(message)
    huge.read_size = 100_000
    ragged = encoder_pb2.TiledPatches()
    ragged.CopyFrom(message)
    ragged.regions[0].tile_x.append(0)
    repeated = encoder_pb2.TiledPatches()
    repeated.CopyFrom(message)
    for _ in range(100):  # the same tile over and over: work for nothing
        repeated.regions[0].tiles.append(0)
        repeated.regions[0].tile_x.append(2048)
        repeated.regions[0].tile_y.append(2048)
    twice = encoder_pb2.TiledPatches()
    twice.CopyFrom(message)
    region = twice.regions[0]
    (
        region.tiles.append(0),
        region.tile_x.append(region.tile_x[0]),
        region.tile_y.append(region.tile_y[0]),
    )
    off_grid = encoder_pb2.TiledPatches()
    off_grid.CopyFrom(message)
    off_grid.regions[0].tile_x[0] += 1
    elsewhere = encoder_pb2.TiledPatches()
    elsewhere.CopyFrom(message)
    elsewhere.regions[0].x += 4 * message.read_size  # its tiles are no longer under it
    cases = (
        (beyond, "beyond"),
        (huge, "sides"),
        (ragged, "differ in length"),
        (repeated, "at most"),
        (twice, "two tiles at one position"),
        (off_grid, "not a tile of the level under the region"),
        (elsewhere, "not a tile of the level under the region"),
    )
    for bad, why in cases:
        with pytest.raises(InvalidInput, match=why):
            wire.tiled_from_proto(bad)
    with pytest.raises(InvalidInput, match="at most 0"):
        wire.tiled_from_proto(message, max_count=0)

    corrupt = encoder_pb2.TiledPatches()
    corrupt.CopyFrom(message)
    tile = message.tiles[0]
    corrupt.tiles[0] = tile[: tile.index(b"\xff\xda")] + b"\xff\xd9"  # a frame, no scan
    with pytest.raises(InvalidInput, match="does not decode"):
        decode_batch(wire.tiled_from_proto(corrupt))


def test_the_service_embeds_tiles_as_it_embeds_their_pixels(encoder_service, synthetic_slide):
    from atlaspatch.client.channel import Endpoint
    from atlaspatch.client.remote import RemoteEncoders

    xy = np.array([(x, 2800) for x in range(1024, 5120, 512)])
    pixels, batch = read_both(synthetic_slide.path, geometry(0, 512), xy)
    client = RemoteEncoders(Endpoint.parse(encoder_service.address), ["efficientnet_lite0"])
    from_tiles = client.embed(batch)["efficientnet_lite0"]
    from_pixels = client.embed(pixels)["efficientnet_lite0"]
    assert from_tiles.shape == (len(xy), 1280)
    np.testing.assert_allclose(from_tiles, from_pixels, rtol=1e-5, atol=1e-6)
