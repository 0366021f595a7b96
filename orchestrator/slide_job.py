"""The work on one slide: open it, take its thumbnail, turn a mask into patch coordinates."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import h5py
import numpy as np
from tqdm import tqdm

from orchestrator import __version__
from orchestrator.content_filter import keep_patch
from orchestrator.errors import SlideError
from orchestrator.geometry import PatchGeometry, plan_geometry
from orchestrator.grid import PatchGrid, tissue_grid
from orchestrator.h5out import CoordsWriter
from orchestrator.magnification import Scale, mpp_override, resolve_scale
from orchestrator.patches import PatchReader
from orchestrator.settings import CoordsSettings, RunSettings
from orchestrator.slide import SlideReader, SlideSource, open_slide
from orchestrator.thumbnail import Thumbnail, read_thumbnail


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


@dataclass(frozen=True)
class CoordsPlan:
    geometry: PatchGeometry
    xy: np.ndarray  # (N, 2) level-0 top-left corners of the kept patches
    tissue_fraction: np.ndarray  # (N,)

    def rows(self) -> np.ndarray:
        g = self.geometry
        n = len(self.xy)
        return np.column_stack(
            [self.xy, np.full(n, g.read_size), np.full(n, g.read_size), np.full(n, g.level)]
        )


# Writes more datasets into the open, not yet committed HDF5 (features, in `process`).
ExtraWriter = Callable[[h5py.File, CoordsPlan], None]


def plan_coordinates(
    slide: OpenedSlide, mask: np.ndarray, settings: CoordsSettings, run: RunSettings
) -> CoordsPlan:
    """The patches to keep: grid positions on tissue, then (no fast mode) by content."""
    geometry = plan_geometry(
        slide.reader.level_downsamples,
        slide.scale.magnification,
        settings.target_magnification,
        settings.patch_size,
        settings.step_size,
    )
    width0, height0 = slide.level0_size
    if width0 < geometry.size_level0 or height0 < geometry.size_level0:
        raise SlideError(
            f"the slide ({width0}x{height0} px at level 0) is smaller than one patch "
            f"({geometry.size_level0} px at level 0 for {settings.patch_size} px at "
            f"{settings.target_magnification:g}x)"
        )
    grid = tissue_grid(mask, slide.level0_size, geometry, settings.min_tissue_fraction)
    if len(grid.xy) == 0:
        raise SlideError("no tissue found: no patch of the grid lies on the tissue mask")

    keep = np.ones(len(grid.xy), dtype=bool)
    if not settings.fast_mode or settings.save_images:
        keep = _read_patches(slide.source, geometry, grid, settings, run)
        if not keep.any():
            raise SlideError("every patch on tissue was filtered out as white or black")
    return CoordsPlan(geometry, grid.xy[keep], grid.tissue_fraction[keep])


def write_slide_h5(
    slide: OpenedSlide,
    plan: CoordsPlan,
    settings: CoordsSettings,
    run: RunSettings,
    provenance: dict[str, str],
    extra: ExtraWriter | None = None,
) -> Path:
    """`<output>/patches/<stem>.h5`, renamed into place only once everything is in it."""
    path = run.patches_dir / f"{slide.source.stem}.h5"
    attrs = _file_attributes(slide, plan.geometry, settings, run, provenance)
    rows = plan.rows()
    # With features to compute, the file can be resumed by a later run if this one dies.
    resumable = extra is not None
    with CoordsWriter(path, attrs, settings.write_batch, resumable) as writer:
        for start in range(0, len(rows), settings.write_batch):
            stop = start + settings.write_batch
            writer.append(rows[start:stop], plan.tissue_fraction[start:stop])
        if extra is not None:
            writer.coords_done()
            extra(writer.file, plan)
        writer.commit()
    return path


def _read_patches(
    source: SlideSource,
    geometry: PatchGeometry,
    grid: PatchGrid,
    settings: CoordsSettings,
    run: RunSettings,
) -> np.ndarray:
    """Read every candidate once: filter by content (no fast mode), save PNGs if asked."""
    keep = np.ones(len(grid.xy), dtype=bool)
    images_tmp = run.images_dir / f".{source.stem}.{os.getpid()}.partial"
    if settings.save_images:
        shutil.rmtree(images_tmp, ignore_errors=True)
        images_tmp.mkdir(parents=True)
    try:
        patches = tqdm(
            total=len(grid.xy),
            unit="patch",
            desc=source.stem,
            leave=False,
            disable=not run.show_progress,
        )
        with PatchReader(source, geometry, run.patch_workers) as reader, patches:
            for index, patch in enumerate(reader.read_many(grid.xy)):
                patches.update()
                if not settings.fast_mode:
                    keep[index] = keep_patch(patch, settings.white_thresh, settings.black_thresh)
                if settings.save_images and keep[index]:
                    x, y = grid.xy[index]
                    name = images_tmp / f"{source.stem}_x{x}_y{y}.png"
                    cv2.imwrite(str(name), cv2.cvtColor(patch, cv2.COLOR_RGB2BGR))
        if settings.save_images:
            final = run.images_dir / source.stem
            shutil.rmtree(final, ignore_errors=True)
            os.replace(images_tmp, final)
    finally:
        shutil.rmtree(images_tmp, ignore_errors=True)
    return keep


def _file_attributes(
    slide: OpenedSlide,
    geometry: PatchGeometry,
    settings: CoordsSettings,
    run: RunSettings,
    provenance: dict[str, str],
) -> dict[str, Any]:
    width0, height0 = slide.level0_size
    return {
        "patch_size": settings.patch_size,
        "patch_size_level0": geometry.size_level0,
        "level0_magnification": _int_if_whole(slide.scale.magnification),
        "target_magnification": _int_if_whole(settings.target_magnification),
        "overlap": geometry.overlap,
        "level0_width": width0,
        "level0_height": height0,
        "mpp": float(slide.scale.mpp) if slide.scale.mpp is not None else "None",
        "wsi_path": str(slide.source.path),
        "filename": slide.source.name,
        "creation_date": dt.datetime.now(dt.timezone.utc).isoformat(),
        "num_patches": 0,  # set on commit
        "vendor": slide.reader.vendor,
        "magnification_source": slide.scale.source,
        "step_size": geometry.step_size,
        "atlaspatch_version": __version__,
        "tissue_model": provenance.get("tissue_model", ""),
        "checkpoint_sha256": provenance.get("checkpoint_sha256", ""),
        "segmenter": json.dumps(provenance, sort_keys=True),
        "parameters": json.dumps(settings.as_dict(), sort_keys=True),
        "mpp_override": json.dumps(mpp_override(slide.source, run.mpp_table)),
    }


def _int_if_whole(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)
