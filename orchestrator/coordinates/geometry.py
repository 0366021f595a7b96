"""Patch geometry: how a patch at the target magnification maps onto the slide's pyramid."""

from __future__ import annotations

from dataclasses import dataclass

from atlaspatch.orchestrator.slides.errors import SlideError
from atlaspatch.orchestrator.slides.pyramid import level_at_or_finer


@dataclass(frozen=True)
class PatchGeometry:
    patch_size: int  # pixels at the target magnification
    step_size: int  # stride at the target magnification
    target_magnification: float
    level0_magnification: float
    level: int  # pyramid level the patches are read from
    size_level0: int  # footprint of a patch in level-0 pixels
    step_level0: int
    read_size: int  # pixels read at `level`, resized to `patch_size` when they differ

    @property
    def overlap(self) -> int:
        return max(0, self.patch_size - self.step_size)


def plan_geometry(
    level_downsamples: tuple[float, ...],
    level0_magnification: float,
    target_magnification: float,
    patch_size: int,
    step_size: int | None = None,
) -> PatchGeometry:
    if target_magnification > level0_magnification * 1.001:
        raise SlideError(
            f"target magnification {target_magnification:g}x is above the slide's own "
            f"{level0_magnification:g}x; choose --target-mag {level0_magnification:g} or lower"
        )
    step = step_size or patch_size
    downsample = level0_magnification / target_magnification
    level = level_at_or_finer(level_downsamples, downsample)
    size_level0 = round(patch_size * downsample)
    return PatchGeometry(
        patch_size=patch_size,
        step_size=step,
        target_magnification=target_magnification,
        level0_magnification=level0_magnification,
        level=level,
        size_level0=size_level0,
        step_level0=max(1, round(step * downsample)),
        read_size=max(1, round(size_level0 / level_downsamples[level])),
    )
