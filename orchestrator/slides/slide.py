"""Slide readers: OpenSlide for whole-slide formats, Pillow for plain images.

A reader knows its pyramid and reads RGB regions; it holds no models and never hides a
failed read behind a blank tile.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from atlaspatch.orchestrator.slides.errors import SlideError
from atlaspatch.orchestrator.slides.tiff_tiles import TiledTiff

log = logging.getLogger(__name__)

WSI_EXTENSIONS = (".svs", ".tif", ".tiff", ".ndpi", ".vms", ".vmu", ".scn", ".mrxs", ".bif", ".dcm")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif")
SUPPORTED_EXTENSIONS = WSI_EXTENSIONS + IMAGE_EXTENSIONS

JPEG_BASELINE = "1.2.840.10008.1.2.4.50"

# A plain image is decoded whole, into memory: past this many pixels (300 MB as RGB) it is
# refused before decoding, with a hint to make it a pyramid. Our limit replaces Pillow's own
# (a warning at 89 MP, an error at 179 MP).
PLAIN_IMAGE_MAX_PIXELS = 100_000_000
Image.MAX_IMAGE_PIXELS = None


@dataclass(frozen=True)
class SlideSource:
    """A slide to process: `path` is what the user named, `open_path` what the reader opens."""

    path: Path
    open_path: Path
    stem: str
    # Other slides of the run whose outputs would have this one's name (discovery sets it).
    same_stem: tuple[Path, ...] = ()

    @property
    def name(self) -> str:
        return self.path.name


class SlideReader(Protocol):
    source: SlideSource
    vendor: str
    properties: dict[str, str]
    level_dimensions: tuple[tuple[int, int], ...]
    level_downsamples: tuple[float, ...]
    # The tiled-JPEG levels, read tile by tile (None: a slide without any).
    tiled: TiledTiff | None

    def read_region(
        self, location: tuple[int, int], level: int, size: tuple[int, int]
    ) -> np.ndarray:
        """RGB uint8 (h, w, 3) of `size` at `level`, top-left `location` in level-0 pixels."""
        ...

    def close(self) -> None: ...


class OpenSlideReader:
    def __init__(self, source: SlideSource):
        import openslide

        self.source = source
        try:
            self._slide = openslide.OpenSlide(str(source.open_path))
        except openslide.OpenSlideError as exc:
            raise SlideError(f"OpenSlide cannot open it: {exc}") from exc
        except Exception as exc:  # OpenSlideUnsupportedFormatError and I/O errors
            raise SlideError(f"OpenSlide cannot open it: {exc}") from exc
        self.properties = dict(self._slide.properties)
        self.vendor = self.properties.get("openslide.vendor", "unknown")
        self.level_dimensions: tuple[tuple[int, int], ...] = tuple(
            (int(w), int(h)) for w, h in self._slide.level_dimensions
        )
        self.level_downsamples: tuple[float, ...] = tuple(
            float(d) for d in self._slide.level_downsamples
        )
        self.tiled = TiledTiff.open(source.open_path, self.level_dimensions, self.level_downsamples)
        self._ycbcr_as_rgb = False
        self._ycbcr_as_rgb = self._dicom_frames_are_ycbcr()
        if self._ycbcr_as_rgb:
            log.warning(
                "%s: DICOM JPEG frames hold YCbCr but are labelled RGB; converting colours",
                source.name,
            )

    def read_region(
        self, location: tuple[int, int], level: int, size: tuple[int, int]
    ) -> np.ndarray:
        try:
            if self.tiled is not None:
                pixels = self.tiled.read(location, level, size)
                if pixels is not None:
                    return pixels
            rgba = np.asarray(self._slide.read_region(location, level, size))
        except Exception as exc:
            raise SlideError(
                f"reading pixels failed at {location} level {level} size {size}: {exc}"
            ) from exc
        rgb = _flatten_alpha(rgba)
        if self._ycbcr_as_rgb:
            import cv2

            # OpenCV's order is Y, Cr, Cb; the frames carry Y, Cb, Cr (JFIF full range).
            rgb = cv2.cvtColor(np.ascontiguousarray(rgb[..., [0, 2, 1]]), cv2.COLOR_YCrCb2RGB)
        return rgb

    def _dicom_frames_are_ycbcr(self) -> bool:
        """Some DICOM writers store baseline-JPEG frames in YCbCr yet declare RGB, and OpenSlide
        then shows them in false colour. Such pixels have near-neutral "G" and "B" (chroma at
        128) under a bright "R" (luma) wherever the glass is, which true RGB never has."""
        if (
            self.vendor != "dicom"
            or self.properties.get("dicom.PhotometricInterpretation") != "RGB"
        ):
            return False
        if self.properties.get("dicom.TransferSyntaxUID") != JPEG_BASELINE:
            return False
        level = len(self.level_dimensions) - 1
        while level > 0 and max(self.level_dimensions[level]) < 64:
            level -= 1
        width, height = self.level_dimensions[level]
        sample = self.read_region((0, 0), level, (width, height)).reshape(-1, 3).astype(int)
        red, green, blue = np.median(sample, axis=0)
        return red > 150 and abs(green - 128) < 20 and abs(blue - 128) < 20

    def close(self) -> None:
        if self.tiled is not None:
            self.tiled.close()
        self._slide.close()


class PillowReader:
    """A plain image as a one-level slide."""

    def __init__(self, source: SlideSource):
        self.source = source
        try:
            with Image.open(source.open_path) as image:
                width, height = image.size  # from the header: nothing is decoded yet
                if width * height > PLAIN_IMAGE_MAX_PIXELS:
                    raise SlideError(
                        f"a plain image of {width}x{height} px is decoded whole, and that is "
                        f"over the limit of {PLAIN_IMAGE_MAX_PIXELS:,} px; make it a tiled "
                        "pyramid (e.g. vips tiffsave --tile --pyramid --compression jpeg)"
                    )
                self._pixels = np.asarray(image.convert("RGB"))
        except SlideError:
            raise
        except Exception as exc:
            raise SlideError(f"Pillow cannot read it: {exc}") from exc
        height, width = self._pixels.shape[:2]
        self.properties: dict[str, str] = {}
        self.vendor = "image"
        self.level_dimensions: tuple[tuple[int, int], ...] = ((int(width), int(height)),)
        self.level_downsamples: tuple[float, ...] = (1.0,)
        self.tiled: TiledTiff | None = None

    def read_region(
        self, location: tuple[int, int], level: int, size: tuple[int, int]
    ) -> np.ndarray:
        if level != 0:
            raise SlideError(f"a plain image has only level 0, not {level}")
        x, y = location
        w, h = size
        out = np.full((h, w, 3), 255, dtype=np.uint8)  # outside the image is background
        height, width = self._pixels.shape[:2]
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
        if x1 > x0 and y1 > y0:
            out[y0 - y : y1 - y, x0 - x : x1 - x] = self._pixels[y0:y1, x0:x1]
        return out

    def close(self) -> None:
        self._pixels = np.empty((0, 0, 3), dtype=np.uint8)


def open_slide(source: SlideSource) -> SlideReader:
    if not source.open_path.is_file():  # a FIFO or a device would block or never end
        raise SlideError("not a regular file")
    suffix = source.open_path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return PillowReader(source)
    if suffix in WSI_EXTENSIONS:
        return OpenSlideReader(source)
    raise SlideError(f"unsupported file type {suffix!r}")


def _flatten_alpha(rgba: np.ndarray) -> np.ndarray:
    """OpenSlide returns premultiplied RGBA; transparent areas (outside the scan) become white."""
    import cv2  # here, not at the top: `atlaspatch info` starts without OpenCV

    alpha = rgba[..., 3]
    if cv2.minMaxLoc(np.ascontiguousarray(alpha))[0] == 255:
        return cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB)
    a = alpha[..., None].astype(np.uint16)
    return (rgba[..., :3].astype(np.uint16) + (255 - a)).clip(0, 255).astype(np.uint8)
