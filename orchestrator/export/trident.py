"""TRIDENT's layout (mahmoodlab/TRIDENT, read at a91fa84): under the destination, one folder
per patch setting, `<mag>x_<patch>px_<overlap>px_overlap/`, holding

- `patches/<stem>_patches.h5`: `coords` (N, 2) int64, level-0 top-left corners, with the
  attributes TRIDENT's readers need (patch_size, patch_size_level0, level0_magnification,
  target_magnification, overlap, level0_width, level0_height, name, savetodir);
- `features_<encoder>/<stem>.h5`: `features` (N, D) float32 (attributes name, savetodir,
  encoder) and `coords` with the same attributes as in the patches file;
- `slide_features_<encoder>/<stem>.h5`: `features` (D,) float32 and the slide's `coords`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from atlaspatch.orchestrator.export.files import write_h5
from atlaspatch.orchestrator.export.stored import (
    StoredSlide,
    read_features,
    slide_embeddings,
)
from atlaspatch.orchestrator.settings import config_folder


def export_trident(source: Path, slide: StoredSlide, destination: Path, encoders: list[str]) -> int:
    """The slide's files under `destination`; how many were written."""
    attrs = slide.attrs
    folder = destination / config_folder(
        slide.patch_size, float(attrs["target_magnification"]), int(attrs.get("step_size", 0))
    )
    coords = np.ascontiguousarray(slide.xy, dtype=np.int64)
    coords_attrs = _coords_attributes(slide, folder / "patches")
    write_h5(folder / "patches" / f"{slide.stem}_patches.h5", {"coords": (coords, coords_attrs)})
    for name in encoders:
        features_folder = folder / f"features_{name}"
        about = {"name": slide.stem, "savetodir": str(features_folder), "encoder": name}
        features = read_features(source, name)
        write_h5(
            features_folder / f"{slide.stem}.h5",
            {"features": (features, about), "coords": (coords, coords_attrs)},
        )
    embeddings = slide_embeddings(source)
    for name, embedding in embeddings.items():
        slide_folder = folder / f"slide_features_{name}"
        about = {"name": slide.stem, "savetodir": str(slide_folder)}
        write_h5(
            slide_folder / f"{slide.stem}.h5",
            {"features": (embedding, about), "coords": (coords, coords_attrs)},
        )
    return 1 + len(encoders) + len(embeddings)


def _coords_attributes(slide: StoredSlide, patches_folder: Path) -> dict[str, Any]:
    attrs = slide.attrs
    step = int(attrs.get("step_size", 0)) or slide.patch_size
    return {
        "patch_size": slide.patch_size,
        "patch_size_level0": slide.patch_size_level0,
        "level0_magnification": attrs["level0_magnification"],
        "target_magnification": attrs["target_magnification"],
        "overlap": int(attrs.get("overlap", max(0, slide.patch_size - step))),
        "name": slide.stem,
        "savetodir": str(patches_folder),
        "level0_width": int(attrs.get("level0_width", 0)),
        "level0_height": int(attrs.get("level0_height", 0)),
    }
