"""The attributes of a slide's HDF5 file: the reference's, then provenance."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from atlaspatch.orchestrator import __version__
from atlaspatch.orchestrator.coordinates.geometry import PatchGeometry
from atlaspatch.orchestrator.settings import CoordsSettings, RunSettings
from atlaspatch.orchestrator.slides.magnification import mpp_override
from atlaspatch.orchestrator.slides.opened import OpenedSlide


def file_attributes(
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
        "wsi_path": stored_path(slide.source.open_path, run.wsi_path_root),
        "filename": slide.source.name,
        "creation_date": dt.datetime.now(dt.UTC).isoformat(),
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


def stored_path(path: Path, root: Path | None = None) -> str:
    """A slide's path as the HDF5 keeps it (for a DICOM series, the file OpenSlide opens):
    absolute, or relative to `root` (as `..` steps where it lies outside)."""
    path = Path(path).absolute()
    return str(path) if root is None else os.path.relpath(path, Path(root).absolute())
