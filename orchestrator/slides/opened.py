"""A slide opened for work: its reader, its scale and its thumbnail."""

from __future__ import annotations

from dataclasses import dataclass

from atlaspatch.orchestrator.slides.magnification import Scale, resolve_scale
from atlaspatch.orchestrator.slides.slide import SlideReader, SlideSource, open_slide
from atlaspatch.orchestrator.slides.thumbnail import Thumbnail, read_thumbnail


@dataclass
class OpenedSlide:
    source: SlideSource
    reader: SlideReader
    scale: Scale
    thumbnail: Thumbnail

    @property
    def level0_size(self) -> tuple[int, int]:
        return self.reader.level_dimensions[0]

    def close(self) -> None:
        self.reader.close()


def open_with_thumbnail(source: SlideSource, mpp_table: dict[str, float]) -> OpenedSlide:
    reader = open_slide(source)
    try:
        scale = resolve_scale(source, reader.properties, mpp_table)
        thumbnail = read_thumbnail(reader, scale.magnification)
    except BaseException:
        reader.close()
        raise
    return OpenedSlide(source, reader, scale, thumbnail)
