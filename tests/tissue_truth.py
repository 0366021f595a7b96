"""Patch-level truth of a synthetic slide, by appearance: which grid patches are tissue, and
what each mostly shows (dark, pink, pale tissue, fat; an ink; debris; background)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
from click.testing import CliRunner

from atlaspatch.orchestrator import synthetic as s
from atlaspatch.orchestrator.cli import main

OTSU = ("--tissue-model", "otsu")

CLASS_NAMES = {
    s.TISSUE: "tissue",
    s.PALE_TISSUE: "pale",
    s.DARK_TISSUE: "dark",
    s.PINK_TISSUE: "pink",
    s.FAT: "fat",
    s.GREEN_PEN: "green_ink",
    s.BLUE_PEN: "blue_ink",
    s.RED_PEN: "red_ink",
    s.BLACK_PEN: "black_ink",
    s.DEBRIS: "debris",
    s.BUBBLE: "bubble_or_edge",
    s.DUST: "dust",
}
INK_AND_DEBRIS = (
    "green_ink",
    "blue_ink",
    "red_ink",
    "black_ink",
    "debris",
    "bubble_or_edge",
    "dust",
)


def label_counts(slide: s.SyntheticSlide, size0: int) -> np.ndarray:
    """(rows, cols, labels): how many label pixels of each label every grid patch covers."""
    rows, cols = slide.height // size0, slide.width // size0
    edges_y = np.round(np.arange(rows + 1) * size0 / slide.label_downsample).astype(int)
    edges_x = np.round(np.arange(cols + 1) * size0 / slide.label_downsample).astype(int)
    edges_y = edges_y.clip(0, slide.labels.shape[0])
    edges_x = edges_x.clip(0, slide.labels.shape[1])
    counts = np.zeros((rows, cols, int(slide.labels.max()) + 1), dtype=np.int64)
    for label in range(counts.shape[2]):
        integral = np.pad((slide.labels == label).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        counts[..., label] = (
            integral[np.ix_(edges_y[1:], edges_x[1:])]
            - integral[np.ix_(edges_y[:-1], edges_x[1:])]
            - integral[np.ix_(edges_y[1:], edges_x[:-1])]
            + integral[np.ix_(edges_y[:-1], edges_x[:-1])]
        )
    return counts


def kept_patches(h5_path: Path, size0: int, shape: tuple[int, int]) -> np.ndarray:
    kept = np.zeros(shape, dtype=bool)
    with h5py.File(h5_path) as f:
        coords = f["coords"][...]
    rows, cols = coords[:, 1] // size0, coords[:, 0] // size0
    inside = (rows < shape[0]) & (cols < shape[1])
    kept[rows[inside], cols[inside]] = True
    return kept


def appearance_scores(slide: s.SyntheticSlide, h5_path: Path, size0: int) -> dict:
    """Per appearance: patches mostly of it, and the share kept (recall for tissue classes,
    the share wrongly kept for ink and debris); overall precision and recall, a patch being
    tissue when at least half of it is."""
    counts = label_counts(slide, size0)
    kept = kept_patches(h5_path, size0, counts.shape[:2])
    total = counts.sum(axis=2).clip(min=1)
    tissue = counts[..., list(s.TISSUE_LABELS)].sum(axis=2) / total >= 0.5
    foreground = counts.copy()
    foreground[..., s.BACKGROUND] = 0
    majority = foreground.argmax(axis=2)
    scores: dict = {}
    for label, name in CLASS_NAMES.items():
        ink = name in INK_AND_DEBRIS
        # Thin rims and specks never fill a patch: for them a patch with some and no
        # tissue counts.
        share = 0.05 if ink else 0.3
        mostly = (majority == label) & (foreground[..., label] >= share * total)
        mostly &= ~tissue if ink else tissue
        if mostly.any():
            scores[name] = {
                "patches": int(mostly.sum()),
                "kept": round(float(kept[mostly].mean()), 4),
            }
    true_positive = int((kept & tissue).sum())
    scores["precision"] = round(true_positive / max(1, int(kept.sum())), 4)
    scores["recall"] = round(true_positive / max(1, int(tissue.sum())), 4)
    return scores


def appearance_slide(
    folder: Path, seed: int, width: int, magnification: float, mpp: float, downsamples
) -> s.SyntheticSlide:
    """A 4:3 slide of `draw_appearance_scene`, its labels 2048 wide."""
    height = width * 3 // 4
    return s.write_synthetic_slide(
        folder / f"appearances-{seed}.tiff",
        width=width,
        height=height,
        magnification=magnification,
        mpp=mpp,
        downsamples=downsamples,
        seed=seed,
        labels=s.draw_appearance_scene((round(height * 2048 / width), 2048), seed),
    )


def segment_and_get_coords(
    slide: Path, out: Path, patch: int, target: int, model: tuple[str, ...] = OTSU
) -> Path:
    """Run the real command; the HDF5 it wrote."""
    arguments = ["segment-and-get-coords", str(slide), "-o", str(out)]
    arguments += ["--patch-size", str(patch), "--target-mag", str(target), *model]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    return out / "patches" / f"{slide.stem}.h5"
