"""CLAM's layout (mahmoodlab/CLAM, read at 53e2409): under the destination,

- `patches/<stem>.h5` (create_patches_fp.py's): `coords` (N, 2) int64, level-0 top-left
  corners, with `patch_level` and `patch_size` (the side read at that level, as CLAM's
  Whole_Slide_Bag_FP reads it), `downsample`, `level_dim`, `downsampled_level_dim`, `name`,
  `save_path`;
- `features_<encoder>/h5_files/<stem>.h5` (extract_features_fp.py's): `features` (N, D)
  float32 and `coords` (N, 2) int32, no attributes;
- `features_<encoder>/pt_files/<stem>.pt`: the features as one float32 torch tensor (N, D),
  what CLAM's MIL datasets load;
- `process_list_autogen.csv`: the slides exported (CLAM's feature extraction reads its
  `slide_id` column).

Our files do not keep the slide's level downsamples: `downsample` and the level sizes are
the patch geometry's (level-0 side over the side read), which is what they are at that level
to within a pixel. CLAM writes no patches file for a slide without patches; neither do we.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from atlaspatch.orchestrator.export.files import write_h5, write_with
from atlaspatch.orchestrator.export.stored import StoredSlide, read_features
from atlaspatch.orchestrator.slides.errors import SlideError

PROCESS_LIST = "process_list_autogen.csv"


def export_clam(
    source: Path, slide: StoredSlide, destination: Path, encoders: list[str], pt_files: bool
) -> int:
    """The slide's files under `destination`; how many were written."""
    if not len(slide.xy):
        raise SlideError("it has no patches: CLAM keeps no files for such a slide")
    downsample = slide.patch_size_level0 / slide.read_size
    width0, height0 = int(slide.attrs["level0_width"]), int(slide.attrs["level0_height"])
    level_dim = np.array([math.ceil(width0 / downsample), math.ceil(height0 / downsample)])
    patches = destination / "patches"
    attrs = {
        "patch_size": slide.read_size,
        "patch_level": slide.level,
        "downsample": np.array([downsample, downsample]),
        "downsampled_level_dim": level_dim,
        "level_dim": level_dim,
        "name": slide.stem,
        "save_path": str(patches),
    }
    coords = np.ascontiguousarray(slide.xy, dtype=np.int64)
    write_h5(patches / f"{slide.stem}.h5", {"coords": (coords, attrs)})
    for name in encoders:
        features = read_features(source, name)
        folder = destination / f"features_{name}"
        write_h5(
            folder / "h5_files" / f"{slide.stem}.h5",
            {"features": (features, {}), "coords": (coords.astype(np.int32), {})},
        )
        if pt_files:
            write_with(folder / "pt_files" / f"{slide.stem}.pt", _tensor_saver(features))
    return 1 + len(encoders) * (2 if pt_files else 1)


def write_process_list(destination: Path, slide_names: list[str]) -> None:
    """CLAM's list of processed slides (file names, as create_patches_fp.py lists them)."""

    def save(path: Path) -> None:
        with path.open("w", newline="") as file:
            rows = csv.writer(file)
            rows.writerow(["slide_id", "process", "status"])
            rows.writerows([name, 0, "processed"] for name in slide_names)

    write_with(destination / PROCESS_LIST, save)


def _tensor_saver(features: np.ndarray) -> Callable[[Path], None]:
    import torch

    def save(path: Path) -> None:
        torch.save(torch.from_numpy(np.ascontiguousarray(features)), path)

    return save
