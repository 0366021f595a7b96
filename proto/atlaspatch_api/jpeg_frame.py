"""What a JPEG stream says it will decode to, read from its frame header (SOF) without
decoding: a tile that lies about its size is refused before it costs any memory."""

from __future__ import annotations

from dataclasses import dataclass

from atlaspatch.api.errors import InvalidInput

# SOF0..SOF15 but DHT (C4), JPG (C8) and DAC (CC), which share the range.
_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length: TEM, RST0..7, SOI.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8), 0xD8})
_START_OF_SCAN, _END_OF_IMAGE = 0xDA, 0xD9


@dataclass(frozen=True)
class JpegFrame:
    width: int
    height: int
    components: int


def jpeg_frame(data: bytes) -> JpegFrame:
    """The frame header of one JPEG stream (a TIFF tile: its tables may live elsewhere)."""
    if data[:2] != b"\xff\xd8":
        raise InvalidInput("a tile is not a JPEG stream")
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            raise InvalidInput("a tile's JPEG markers are corrupt")
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _STANDALONE:
            at += 2
            continue
        if marker in (_START_OF_SCAN, _END_OF_IMAGE):
            break
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in _FRAME_MARKERS and length >= 8 and at + 10 <= len(data):
            height = int.from_bytes(data[at + 5 : at + 7], "big")
            width = int.from_bytes(data[at + 7 : at + 9], "big")
            return JpegFrame(width, height, data[at + 9])
        at += 2 + length
    raise InvalidInput("a tile has no JPEG frame header before its image data")
