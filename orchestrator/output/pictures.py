"""Pictures of what the pipeline decided, under `<output>/visualization/`.

`<stem>_mask.png` (tissue tinted green over the thumbnail), `<stem>_mask_bw.png` (the binary
mask), `<stem>_contours.png` (tissue outlines red, holes blue) and `<stem>_grid.png` (kept
patches outlined). Small thumbnails are enlarged by a whole factor so details stay visible.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from atlaspatch.orchestrator.coordinates.regions import trace_contours

MIN_LONG_SIDE = 1024
TISSUE_TINT = np.array([0, 200, 0], dtype=np.float32)


def save_mask(folder: Path, stem: str, thumbnail: np.ndarray, mask: np.ndarray) -> list[Path]:
    scale = _scale(thumbnail)
    image = _enlarge(thumbnail, scale).astype(np.float32)
    big_mask = _enlarge(mask.astype(np.uint8), scale, nearest=True).astype(bool)
    image[big_mask] = 0.6 * image[big_mask] + 0.4 * TISSUE_TINT
    return [
        _write(folder / f"{stem}_mask.png", image.astype(np.uint8)),
        _write(folder / f"{stem}_mask_bw.png", (big_mask * 255).astype(np.uint8)),
    ]


def save_contours(folder: Path, stem: str, thumbnail: np.ndarray, mask: np.ndarray) -> Path:
    scale = _scale(thumbnail)
    image = np.ascontiguousarray(_enlarge(thumbnail, scale))
    contours = trace_contours(_enlarge(mask.astype(np.uint8), scale, nearest=True))
    cv2.drawContours(image, contours.tissue, -1, (255, 0, 0), thickness=2)
    cv2.drawContours(image, contours.holes, -1, (0, 0, 255), thickness=2)
    return _write(folder / f"{stem}_contours.png", image)


def save_grid(
    folder: Path,
    stem: str,
    thumbnail: np.ndarray,
    level0_size: tuple[int, int],
    xy: np.ndarray,
    size_level0: int,
) -> Path:
    scale = _scale(thumbnail)
    image = np.ascontiguousarray(_enlarge(thumbnail, scale))
    per_level0 = image.shape[1] / level0_size[0]
    side = max(1, round(size_level0 * per_level0))
    for x, y in xy:
        left, top = round(x * per_level0), round(y * per_level0)
        cv2.rectangle(image, (left, top), (left + side - 1, top + side - 1), (0, 0, 0), 1)
    label = f"{len(xy)} patches"
    cv2.putText(image, label, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 2)
    return _write(folder / f"{stem}_grid.png", image)


def _scale(thumbnail: np.ndarray) -> int:
    return int(np.clip(MIN_LONG_SIDE // max(thumbnail.shape[:2]), 1, 8))


def _enlarge(image: np.ndarray, scale: int, nearest: bool = False) -> np.ndarray:
    if scale == 1:
        return image
    interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.resize(
        image, (image.shape[1] * scale, image.shape[0] * scale), interpolation=interpolation
    )


def _write(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.partial.png")
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    if not cv2.imwrite(str(temporary), bgr):
        raise OSError(f"could not write {temporary}")
    os.replace(temporary, path)
    return path
