"""Reading tiled-JPEG TIFF levels (SVS, generic tiled TIFF) by decoding their tiles directly.

OpenSlide decodes to premultiplied ARGB and converts again to RGBA; for the common tiled-JPEG
pyramids that costs about half the speed of decoding the tiles. Where a level is such a page,
regions aligned to its pixel grid are assembled from tiles decoded with imagecodecs as
tifffile does (the same libjpeg, the same pixels); anything else is left to OpenSlide. The
decoding and assembly are the API's (`atlaspatch_api.tiles`): a service that is sent the
tiles makes the same patches.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from atlaspatch.api.tiles import TileCodec, TilePlacement, assemble, covering

TIFF_SUFFIXES = (".svs", ".tif", ".tiff")
JPEG = 7


@dataclass(frozen=True)
class _Level:
    width: int
    height: int
    offsets: tuple[int, ...]
    byte_counts: tuple[int, ...]
    codec: TileCodec


class TiledTiff:
    def __init__(self, path: Path, levels: dict[int, _Level], downsamples: tuple[float, ...]):
        self._fd = os.open(path, os.O_RDONLY)
        self._levels = levels
        self._downsamples = downsamples

    @classmethod
    def open(
        cls,
        path: Path,
        level_dimensions: tuple[tuple[int, int], ...],
        downsamples: tuple[float, ...],
    ) -> TiledTiff | None:
        if path.suffix.lower() not in TIFF_SUFFIXES:
            return None
        import tifffile

        try:
            with tifffile.TiffFile(path) as tif:
                pages = [p for p in tif.pages if isinstance(p, tifffile.TiffPage) and _usable(p)]
                by_size = {(p.imagewidth, p.imagelength): p for p in reversed(pages)}
                levels = {
                    index: _level(by_size[size])
                    for index, size in enumerate(level_dimensions)
                    if size in by_size
                }
        except Exception:  # not a TIFF tifffile understands: OpenSlide alone reads it
            return None
        return cls(path, levels, downsamples) if levels else None

    def read(
        self, location: tuple[int, int], level: int, size: tuple[int, int]
    ) -> np.ndarray | None:
        """RGB region, or None when this level or position is not on the fast path."""
        origin = self.origin(location, level)
        if origin is None:
            return None
        lv = self._levels[level]
        placements: list[TilePlacement] = []
        decoded: list[np.ndarray | None] = []
        for index, x, y in covering(*origin, size, (lv.width, lv.height), lv.codec):
            data = self.tile_bytes(level, index)
            decoded.append(lv.codec.decode(data) if data else None)
            placements.append(TilePlacement(len(placements), x, y))
        return assemble(*origin, size, (lv.width, lv.height), lv.codec, placements, decoded)

    def origin(self, location: tuple[int, int], level: int) -> tuple[int, int] | None:
        """The level-0 `location` in the level's own pixels, or None when the level is not
        a tiled-JPEG page or the location falls between its pixels."""
        downsample = self._downsamples[level]
        if level not in self._levels or not float(downsample).is_integer():
            return None
        step = int(downsample)
        if location[0] % step or location[1] % step:
            return None
        return location[0] // step, location[1] // step

    def level(self, level: int) -> tuple[TileCodec, tuple[int, int]]:
        """How the level's tiles decode, and its size."""
        lv = self._levels[level]
        return lv.codec, (lv.width, lv.height)

    def tile_bytes(self, level: int, index: int) -> bytes:
        """The tile's JPEG stream as stored; b"" for a sparse tile (nothing scanned there)."""
        lv = self._levels[level]
        count = lv.byte_counts[index]
        return os.pread(self._fd, count, lv.offsets[index]) if count else b""

    def close(self) -> None:
        os.close(self._fd)


def _level(page: Any) -> _Level:
    from tifffile.tifffile import jpeg_decode_colorspace

    colorspace, outcolorspace = jpeg_decode_colorspace(
        page.photometric, page.planarconfig, page.extrasamples, page.is_jfif
    )
    codec = TileCodec(
        page.tilewidth,
        page.tilelength,
        page.jpegtables or b"",
        -1 if colorspace is None else int(colorspace),
        -1 if outcolorspace is None else int(outcolorspace),
    )
    return _Level(
        page.imagewidth,
        page.imagelength,
        tuple(page.dataoffsets),
        tuple(page.databytecounts),
        codec,
    )


def _usable(page: Any) -> bool:
    return (
        page.is_tiled
        and page.compression == JPEG
        and page.planarconfig == 1
        and page.samplesperpixel == 3
        and page.dtype == np.uint8
        and page.photometric in (2, 6)  # RGB, YCbCr
        and page.imagedepth == 1
    )
