"""Patch quality and the tissue mask against artifacts whose truth is known: synthetic slides
with out-of-focus regions, folds, bubble rims and the coverslip's edge, faint hatched pen of
every colour, and the scan area's tinted glass (orchestrator/synthetic_artifacts.py), through
the real `segment-and-get-coords`. Prints JSON:

- mask: per class, the share of grid patches mostly of it that the mask keeps (tissue of every
  appearance, and under an artifact: recall; glass of the scan area and faint ink over glass:
  kept wrongly), as bench/segment_quality.py measures it;
- flags: precision and recall of each quality flag at its default threshold, from the patch
  pixels (--no-fast-mode) and from the thumbnail (fast mode); pen is faint ink over tissue;
- cost: the scores' milliseconds per patch against the feature pass's (efficientnet_lite0,
  float32, batch 32, this machine's CPU threads), measured in the same run.

    .venv/bin/python bench/patch_quality.py
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import h5py  # noqa: E402
import numpy as np  # noqa: E402
from machine import describe_machine  # noqa: E402
from segment_quality import artifact_mask_shares  # noqa: E402

from atlaspatch.orchestrator import synthetic_artifacts as a  # noqa: E402
from atlaspatch.orchestrator.quality.names import (
    DEFAULT_THRESHOLDS,  # noqa: E402
    NAMES,  # noqa: E402
)
from atlaspatch.orchestrator.quality.scores import patch_scores  # noqa: E402
from tests.quality_truth import QualitySlide, precision_recall, quality_slide  # noqa: E402
from tests.tissue_truth import segment_and_get_coords  # noqa: E402

SLIDES = [(0, 16000, 40, 0.25), (1, 8000, 20, 0.5)]  # seed, width, magnification, mpp
# Each flag's artifacts, and the share of a patch that makes it a positive (a patch without
# any of them is a negative): pen is faint hatched ink over tissue, of every colour.
FLAGS = {
    "blur": ((a.BLUR,), 0.5), "fold": ((a.FOLD,), 0.25), "bubble": ((a.BUBBLE_RIM,), 0.02),
    "pen": (a.FAINT_PENS, 0.1),
}  # fmt: skip


def flag_scores(slide: QualitySlide, h5: Path, size0: int) -> dict:
    with h5py.File(h5) as file:
        coords = file["coords"][...]
        qc = {name: file["qc"][name][...] for name in NAMES}
    shares = slide.shares(coords[:, :2], size0)
    figures = {}
    for name, (codes, positive) in FLAGS.items():
        flagged = np.nan_to_num(qc[name]) >= DEFAULT_THRESHOLDS[name]
        share = shares[:, list(codes)].sum(axis=1)
        p, r, n_pos, n_neg = precision_recall(flagged, share >= positive, share == 0)
        figures[name] = {
            "precision": round(p, 3),
            "recall": round(r, 3),
            "positives": n_pos,
            "negatives": n_neg,
        }
    return figures


def cost(slide: QualitySlide) -> dict:
    import openslide
    import torch

    from atlaspatch.client.encoder import local_encoders

    with openslide.OpenSlide(str(slide.slide.path)) as reader:
        region = np.asarray(reader.read_region((0, 0), 0, (2048, 2048)).convert("RGB"))
    patches = np.stack(
        [region[y : y + 256, x : x + 256] for y in range(0, 2048, 256) for x in range(0, 2048, 256)]
    )
    start = time.perf_counter()
    for patch in patches:
        patch_scores(patch)
    score_ms = (time.perf_counter() - start) / len(patches) * 1000
    encoders = local_encoders(["efficientnet_lite0"], device="cpu")
    batch = np.ascontiguousarray(patches[:32])
    encoders.embed(batch)  # warm-up
    times = []
    for _ in range(3):
        start = time.perf_counter()
        encoders.embed(batch)
        times.append((time.perf_counter() - start) / len(batch) * 1000)
    forward_ms = statistics.median(times)
    return {
        "scores_ms_per_patch": round(score_ms, 3),
        "efficientnet_lite0_forward_ms_per_patch": round(forward_ms, 2),
        "torch_threads": torch.get_num_threads(),
        "share_of_forward": round(score_ms / forward_ms, 4),
    }


def fast_mode_cost(slide: QualitySlide) -> dict:
    """Fast mode's scores on a thumbnail the size of a 100,000 x 80,000 px slide's at 1.25x
    (the synthetic one tiled), for every cell of a 256 px grid at 20x off glass: the colour
    rules once over the thumbnail, as fast mode runs them, against cell by cell."""
    import openslide

    from atlaspatch.orchestrator.quality.thumbnail import thumbnail_scores

    with openslide.OpenSlide(str(slide.slide.path)) as reader:
        small = np.asarray(reader.get_thumbnail((500, 375)).convert("RGB"))
    thumbnail = np.ascontiguousarray(np.tile(small, (7, 7, 1))[:2500, :3125])
    xy = np.array([(x, y) for y in range(0, 80000, 512) for x in range(0, 100000, 512)])
    xy = xy[thumbnail[xy[:, 1] // 32, xy[:, 0] // 32].min(axis=1) < 220]
    start = time.perf_counter()
    thumbnail_scores(thumbnail, 32, xy, 512)
    whole = time.perf_counter() - start
    start = time.perf_counter()
    for x, y in xy // 32:
        patch_scores(np.ascontiguousarray(thumbnail[y : y + 16, x : x + 16]), measure_blur=False)
    cell_by_cell = time.perf_counter() - start
    return {
        "thumbnail": [2500, 3125],
        "cells": len(xy),
        "whole_thumbnail_s": round(whole, 3),
        "cell_by_cell_s": round(cell_by_cell, 3),
    }


def main() -> None:
    figures: dict = {"machine": describe_machine(), "thresholds": DEFAULT_THRESHOLDS}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for seed, width, magnification, mpp in SLIDES:
            slide = quality_slide(root / f"slide-{seed}", seed, width, magnification, mpp)
            size0 = round(256 * magnification / 20)
            key = f"synthetic seed {seed}, {width} px wide at {magnification:g}x, 256 px at 20x"
            fast = segment_and_get_coords(slide.slide.path, root / f"fast-{seed}", 256, 20)
            read = segment_and_get_coords(
                slide.slide.path, root / f"read-{seed}", 256, 20,
                ("--tissue-model", "otsu", "--no-fast-mode"),
            )  # fmt: skip
            figures[key] = {
                "mask": artifact_mask_shares(slide, fast, size0),
                "flags_from_pixels": flag_scores(slide, read, size0),
                "flags_from_thumbnail": {
                    name: value
                    for name, value in flag_scores(slide, fast, size0).items()
                    if name != "blur"
                },
            }
        figures["cost"] = cost(slide)
        figures["fast_mode_cost"] = fast_mode_cost(slide)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
