"""Coordinate extraction speed on a synthetic 40x slide; prints JSON.

    .venv/bin/python bench/coords.py [--width 40000 --height 30000] [--slide PATH]

Measures, on one core: the thumbnail read (1.25x, from the coarsest suitable level), the
otsu mask, and the vectorised grid (tissue fraction of every grid position) for several
patch sizes; then the whole `segment-and-get-coords` run of the CLI.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cv2  # noqa: E402
from machine import describe_machine  # noqa: E402

from atlaspatch.orchestrator.coordinates.geometry import plan_geometry  # noqa: E402
from atlaspatch.orchestrator.coordinates.grid import tissue_grid  # noqa: E402
from atlaspatch.orchestrator.slides.discovery import discover_slides  # noqa: E402
from atlaspatch.orchestrator.slides.slide import open_slide  # noqa: E402
from atlaspatch.orchestrator.slides.thumbnail import read_thumbnail  # noqa: E402
from atlaspatch.orchestrator.synthetic import write_synthetic_slide  # noqa: E402
from atlaspatch.segmenter_service.otsu import segment_tissue  # noqa: E402

cv2.setNumThreads(1)


def best_of(repeats: int, function):
    best, value = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        value = function()
        best = min(best, time.perf_counter() - start)
    return best, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--width", type=int, default=40000)
    parser.add_argument("--height", type=int, default=30000)
    parser.add_argument("--slide", type=Path, help="reuse a slide written by an earlier run")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="atlaspatch-bench-"))
    slide_path = args.slide or workdir / "bench-40x.tiff"
    write_seconds = None
    if not slide_path.exists():
        start = time.perf_counter()
        write_synthetic_slide(slide_path, args.width, args.height, magnification=40, mpp=0.25)
        write_seconds = time.perf_counter() - start

    source = discover_slides(slide_path)[0]
    reader = open_slide(source)
    thumbnail_seconds, thumbnail = best_of(3, lambda: read_thumbnail(reader, 40))
    mask_seconds, mask = best_of(3, lambda: segment_tissue(thumbnail.pixels))

    grids = []
    for patch_size, step in ((256, 256), (256, 128), (64, 64), (16, 16)):
        geometry = plan_geometry(reader.level_downsamples, 40, 20, patch_size, step)
        seconds, grid = best_of(
            5, lambda g=geometry: tissue_grid(mask, reader.level_dimensions[0], g, 0.5)
        )
        grids.append(
            {
                "patch_size": patch_size,
                "step_size": step,
                "target_magnification": 20,
                "grid_positions": grid.positions_evaluated,
                "patches_kept": len(grid.xy),
                "seconds": round(seconds, 5),
                "grid_positions_per_second": round(grid.positions_evaluated / seconds),
                "patches_kept_per_second": round(len(grid.xy) / seconds),
            }
        )
    reader.close()

    out = workdir / "out"
    command = [
        sys.executable,
        "-m",
        "atlaspatch.orchestrator.cli",
        "segment-and-get-coords",
        str(slide_path),
        "-o",
        str(out),
        "--patch-size",
        "256",
        "--target-mag",
        "20",
        "--tissue-model",
        "otsu",
        "--device",
        "cpu",
        "--patch-workers",
        "1",
        "--force",
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    cli_seconds = time.perf_counter() - start

    print(
        json.dumps(
            {
                "machine": describe_machine(),
                "slide": {
                    "path": str(slide_path),
                    "size": reader.level_dimensions[0],
                    "levels": reader.level_downsamples,
                    "magnification": 40,
                    "write_seconds": write_seconds,
                },
                "thumbnail": {
                    "shape": thumbnail.pixels.shape[:2],
                    "level": thumbnail.level,
                    "seconds": round(thumbnail_seconds, 4),
                },
                "otsu_mask_seconds": round(mask_seconds, 4),
                "grid": grids,
                "cli_segment_and_get_coords_seconds": round(cli_seconds, 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
