"""`atlaspatch info`: what a slide is, in a few lines a person can read."""

from __future__ import annotations

from pathlib import Path

from atlaspatch.orchestrator.slides.discovery import discover_slides
from atlaspatch.orchestrator.slides.errors import SlideError
from atlaspatch.orchestrator.slides.magnification import resolve_scale
from atlaspatch.orchestrator.slides.slide import open_slide


def describe_slide(path: Path, mpp_table: dict[str, float]) -> str:
    sources = discover_slides(path)
    if len(sources) != 1:
        raise ValueError("give one slide, not a folder of slides")
    source = sources[0]
    reader = open_slide(source)
    try:
        lines = [f"slide:   {source.path}", f"vendor:  {reader.vendor}"]
        try:
            scale = resolve_scale(source, reader.properties, mpp_table)
            mpp = "unknown" if scale.mpp is None else f"{scale.mpp:.4f}"
            lines += [
                f"mpp:     {mpp}",
                f"magnification: {scale.magnification:g}x ({scale.source})",
            ]
        except SlideError as exc:
            lines += ["mpp:     unknown", f"magnification: unknown ({exc})"]
        lines.append("levels:")
        for level, ((width, height), downsample) in enumerate(
            zip(reader.level_dimensions, reader.level_downsamples, strict=True)
        ):
            lines.append(f"  {level}: {width} x {height}  downsample {downsample:.3f}")
        return "\n".join(lines)
    finally:
        reader.close()
