"""Tissue segmentation speed per thumbnail, and mask quality per appearance class (patches
kept of each tissue appearance, of each ink, overall precision and recall: see
segment_quality.py); prints JSON.

    .venv/bin/python bench/segment.py [--device cpu|cuda] [--batch 1 2 4] [--checkpoint model.pth]

Quality is measured for the weight-free model, and for SAM2 when --checkpoint is given.

Without --checkpoint a randomly initialised SAM2.1 Hiera-tiny checkpoint (AtlasPatch's format)
is written to a temporary folder: the timing does not depend on the weights.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from machine import describe_machine  # noqa: E402
from segment_quality import quality  # noqa: E402

from atlaspatch.segmenter_service.otsu import OtsuSegmenter  # noqa: E402
from atlaspatch.segmenter_service.sam2_backend import Sam2Segmenter  # noqa: E402
from tests.sam2_checkpoint import write_random_checkpoint  # noqa: E402


def seconds_per_thumbnail(segmenter, thumbnails, repeats: int = 2) -> float:
    segmenter.segment(thumbnails[:1])  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        segmenter.segment(thumbnails)
        best = min(best, time.perf_counter() - start)
    return best / len(thumbnails)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--checkpoint", type=Path)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    thumbnails = [
        rng.integers(0, 255, (938, 1250, 3), dtype=np.uint8) for _ in range(max(args.batch))
    ]
    checkpoint = args.checkpoint or write_random_checkpoint(Path(tempfile.mkdtemp()) / "model.pth")
    sam2 = Sam2Segmenter(checkpoint, device=args.device)
    figures = {
        "machine": describe_machine(),
        "device": args.device,
        "thumbnail": [938, 1250],
        "otsu_seconds_per_thumbnail": round(seconds_per_thumbnail(OtsuSegmenter(), thumbnails), 4),
        "sam2_seconds_per_thumbnail": {
            str(batch): round(seconds_per_thumbnail(sam2, thumbnails[:batch]), 3)
            for batch in args.batch
        },
    }
    figures["quality"] = {"otsu": quality(("--tissue-model", "otsu"))}
    if args.checkpoint:
        sam2_options = ("--tissue-model", "sam2", "--sam2-checkpoint", str(args.checkpoint))
        figures["quality"]["sam2"] = quality((*sam2_options, "--device", args.device))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
