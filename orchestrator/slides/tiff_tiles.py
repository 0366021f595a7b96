"""Reading tiled-JPEG TIFF levels (SVS, generic tiled TIFF) by decoding their tiles directly.

OpenSlide decodes to premultiplied ARGB and converts again to RGBA; for the common tiled-JPEG
pyramids that costs about half the speed of decoding the tiles. Where a level is such a page,
regions aligned to its pixel grid are assembled from tiles decoded with tifffile/imagecodecs
(the same libjpeg, the same pixels); anything else is left to OpenSlide.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

TIFF_SUFFIXES = (".svs", ".tif", ".tiff")
JPEG = 7


@dataclass(frozen=True)
class _Level:
    width: int
    height: int
    tile_w: int
    tile_h: int
    tiles_across: int
    offsets: tuple[int, ...]
    byte_counts: tuple[int, ...]
    jpegtables: bytes | None
    decode: Any  # tifffile's decoder for this page


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
                levels = {}
                for index, size in enumerate(level_dimensions):
                    page = by_size.get(size)
                    if page is not None:
                        levels[index] = _Level(
                            width=size[0],
                            height=size[1],
                            tile_w=page.tilewidth,
                            tile_h=page.tilelength,
                            tiles_across=-(-page.imagewidth // page.tilewidth),
                            offsets=tuple(page.dataoffsets),
                            byte_counts=tuple(page.databytecounts),
                            jpegtables=page.jpegtables,
                            decode=page.decode,
                        )
        except Exception:  # not a TIFF tifffile understands: OpenSlide alone reads it
            return None
        return cls(path, levels, downsamples) if levels else None

    def read(
        self, location: tuple[int, int], level: int, size: tuple[int, int]
    ) -> np.ndarray | None:
        """RGB region, or None when this level or position is not on the fast path."""
        found = self._levels.get(level)
        downsample = self._downsamples[level]
        if found is None or not float(downsample).is_integer():
            return None
        step = int(downsample)
        if location[0] % step or location[1] % step:
            return None
        x0, y0 = location[0] // step, location[1] // step
        width, height = size
        lv = found
        inside = x0 >= 0 and y0 >= 0 and x0 + width <= lv.width and y0 + height <= lv.height
        # Every pixel of a region inside the image is overwritten; outside the scan is white.
        out = (
            np.empty((height, width, 3), np.uint8)
            if inside
            else np.full((height, width, 3), 255, np.uint8)
        )
        first_col, first_row = max(0, x0) // lv.tile_w, max(0, y0) // lv.tile_h
        last_col = min(lv.width, x0 + width) - 1
        last_row = min(lv.height, y0 + height) - 1
        for row in range(first_row, last_row // lv.tile_h + 1):
            for col in range(first_col, last_col // lv.tile_w + 1):
                tile = self._tile(lv, row * lv.tiles_across + col)
                tx, ty = col * lv.tile_w, row * lv.tile_h
                # Overlap of the tile (clipped to the image) with the wanted region.
                left, top = max(tx, x0), max(ty, y0)
                right = min(tx + lv.tile_w, x0 + width, lv.width)
                bottom = min(ty + lv.tile_h, y0 + height, lv.height)
                if right <= left or bottom <= top:
                    continue
                region = out[top - y0 : bottom - y0, left - x0 : right - x0]
                if tile is None:
                    region[...] = 255
                else:
                    region[...] = tile[top - ty : bottom - ty, left - tx : right - tx]
        return out

    def close(self) -> None:
        os.close(self._fd)

    def _tile(self, level: _Level, index: int) -> np.ndarray | None:
        count = level.byte_counts[index]
        if count == 0:
            return None  # a sparse tile: nothing was scanned there
        data = os.pread(self._fd, count, level.offsets[index])
        pixels, _, _ = level.decode(data, index, jpegtables=level.jpegtables)
        return pixels.reshape(pixels.shape[-3:])[..., :3]


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
