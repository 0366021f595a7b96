"""Synthetic pyramidal slides with known tissue, for the demo, tests and benchmarks.

A slide is drawn from a small label map (background, tissue, pale tissue, green, blue and
red pen, dark debris), upsampled tile by tile with stain-like colour and noise, and written
as a tiled-JPEG TIFF with an Aperio-style description that OpenSlide reads as an SVS.
The label map is the ground truth: tissue is where it holds TISSUE or PALE_TISSUE. Artifacts
(synthetic_artifacts) can be drawn over it, with their own map as their truth.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from atlaspatch.orchestrator.synthetic_artifacts import render_artifacts

BACKGROUND, TISSUE, PALE_TISSUE, GREEN_PEN, BLUE_PEN, RED_PEN, DEBRIS = range(7)
# H&E appearances beyond plain tissue, and black ink as dark as the darkest of them.
DARK_TISSUE, PINK_TISSUE, FAT, BLACK_PEN = range(7, 11)
# Out of tissue: air bubbles' rims and the coverslip's edge (grey lines), dust (grey specks).
BUBBLE, DUST = range(11, 13)
TISSUE_LABELS = (TISSUE, PALE_TISSUE, DARK_TISSUE, PINK_TISSUE, FAT)
FAT_CELL_UM = 80  # adipocytes: white cells between thin eosin septa

_HEMATOXYLIN = np.array([105, 55, 150], dtype=np.float32)
_EOSIN = np.array([225, 120, 180], dtype=np.float32)
_COLOURS = {
    BACKGROUND: (243, 242, 240),
    PALE_TISSUE: (236, 208, 226),
    GREEN_PEN: (40, 130, 80),
    BLUE_PEN: (40, 60, 170),
    RED_PEN: (200, 30, 40),
    DEBRIS: (30, 28, 30),
    DARK_TISSUE: (72, 30, 78),  # nuclei-rich, keratin: haematoxylin-dense
    PINK_TISSUE: (228, 140, 182),  # collagen, eosin-rich stroma
    FAT: (242, 240, 241),
    BLACK_PEN: (40, 38, 44),
    BUBBLE: (120, 122, 126),
    DUST: (70, 68, 66),
}
_FAT_SEPTUM = np.array([222, 168, 200], dtype=np.float32)


@dataclass(frozen=True)
class SyntheticSlide:
    path: Path
    labels: np.ndarray  # uint8 label map, one label per `label_downsample` level-0 pixels
    label_downsample: float
    width: int
    height: int

    def is_tissue(self, x0: np.ndarray, y0: np.ndarray) -> np.ndarray:
        """Ground truth at level-0 points."""
        rows = np.clip((y0 / self.label_downsample).astype(int), 0, self.labels.shape[0] - 1)
        cols = np.clip((x0 / self.label_downsample).astype(int), 0, self.labels.shape[1] - 1)
        return np.isin(self.labels[rows, cols], TISSUE_LABELS)


def draw_scene(shape: tuple[int, int], seed: int = 0, pens: bool = True) -> np.ndarray:
    """A label map with tissue (holes included), pale tissue, fragments, pens and debris."""
    height, width = shape
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, dtype=np.uint8)
    unit = min(height, width)

    def blob(cx: float, cy: float, radius: float, label: int) -> None:
        angles = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        wobble = 1 + 0.18 * np.sin(3 * angles + rng.uniform(0, 6)) + rng.uniform(-0.06, 0.06, 48)
        points = np.stack(
            [cx + radius * wobble * np.cos(angles), cy + 0.8 * radius * wobble * np.sin(angles)], 1
        )
        cv2.fillPoly(labels, [points.round().astype(np.int32)], label)

    blob(0.30 * width, 0.40 * height, 0.22 * unit, TISSUE)
    blob(0.30 * width, 0.40 * height, 0.06 * unit, BACKGROUND)  # a hole
    blob(0.68 * width, 0.55 * height, 0.18 * unit, TISSUE)
    blob(0.70 * width, 0.57 * height, 0.05 * unit, BACKGROUND)
    blob(0.62 * width, 0.18 * height, 0.09 * unit, PALE_TISSUE)
    for fx, fy in ((0.12, 0.85), (0.22, 0.88), (0.45, 0.80), (0.90, 0.20)):
        cv2.circle(
            labels, (int(fx * width), int(fy * height)), max(2, int(0.025 * unit)), TISSUE, -1
        )
    if pens:
        thickness = max(2, int(0.012 * unit))
        strokes = (((0.05, 0.08), (0.40, 0.05), GREEN_PEN), ((0.85, 0.95), (0.97, 0.60), BLUE_PEN))
        for (x0, y0), (x1, y1), pen in strokes:
            start, end = (int(x0 * width), int(y0 * height)), (int(x1 * width), int(y1 * height))
            cv2.line(labels, start, end, pen, thickness)
        cv2.ellipse(
            labels,
            (int(0.88 * width), int(0.85 * height)),
            (int(0.04 * unit), int(0.03 * unit)),
            0,
            0,
            300,
            RED_PEN,
            thickness,
        )
        for fx, fy in ((0.55, 0.92), (0.08, 0.55), (0.95, 0.05)):
            cv2.circle(
                labels, (int(fx * width), int(fy * height)), max(1, int(0.012 * unit)), DEBRIS, -1
            )
    return labels


def draw_appearance_scene(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """Tissue of every H&E appearance beside ink of the same darkness or colour: dense dark
    regions at the tissue's border and inside it, pink stroma, fat, pale tissue; black and
    red pen touching tissue, green and blue pen, debris, bubbles, the coverslip's edge, dust."""
    height, width = shape
    rng = np.random.default_rng(seed)
    labels = draw_scene(shape, seed, pens=False)
    unit = min(height, width)

    def ellipse(fx: float, fy: float, rx: float, ry: float, label: int) -> None:
        angle = float(rng.uniform(0, 180))
        centre = (int(fx * width), int(fy * height))
        cv2.ellipse(labels, centre, (int(rx * unit), int(ry * unit)), angle, 0, 360, label, -1)

    ellipse(0.20, 0.32, 0.07, 0.04, DARK_TISSUE)  # at the border of the first piece
    ellipse(0.36, 0.50, 0.05, 0.03, DARK_TISSUE)
    ellipse(0.74, 0.62, 0.06, 0.03, DARK_TISSUE)
    ellipse(0.30, 0.25, 0.06, 0.05, PINK_TISSUE)
    ellipse(0.60, 0.48, 0.07, 0.04, PINK_TISSUE)
    ellipse(0.80, 0.45, 0.05, 0.05, FAT)
    thickness = max(2, int(0.012 * unit))
    strokes = (
        ((0.05, 0.08), (0.40, 0.05), GREEN_PEN),
        ((0.85, 0.95), (0.97, 0.60), BLUE_PEN),
        ((0.08, 0.62), (0.30, 0.70), BLACK_PEN),  # ends against the first piece
        ((0.93, 0.30), (0.83, 0.50), RED_PEN),  # ends against the second piece
        ((0.52, 0.95), (0.70, 0.88), BLACK_PEN),
    )
    for (x0, y0), (x1, y1), pen in strokes:
        start, end = (int(x0 * width), int(y0 * height)), (int(x1 * width), int(y1 * height))
        cv2.line(labels, start, end, pen, thickness)
    for fx, fy in ((0.55, 0.92), (0.08, 0.45), (0.95, 0.05)):
        cv2.circle(
            labels, (int(fx * width), int(fy * height)), max(1, int(0.012 * unit)), DEBRIS, -1
        )
    rim = max(1, int(0.004 * unit))
    for fx, fy, radius in ((0.45, 0.12, 0.05), (0.12, 0.90, 0.04)):  # air bubbles
        centre = (int(fx * width), int(fy * height))
        cv2.circle(labels, centre, int(radius * unit), BUBBLE, rim)
    cv2.line(labels, (0, int(0.985 * height)), (width, int(0.985 * height)), BUBBLE, rim)
    for fx, fy in rng.uniform(0.02, 0.98, (12, 2)):
        spot = (int(fx * width), int(fy * height))
        if labels[spot[1], spot[0]] == BACKGROUND:
            cv2.circle(labels, spot, max(1, int(0.004 * unit)), DUST, -1)
    return labels


def write_synthetic_slide(
    path: Path,
    width: int = 8000,
    height: int = 6000,
    magnification: float | None = 40.0,
    mpp: float | None = 0.25,
    downsamples: tuple[int, ...] = (1, 4, 16),
    tile: int = 256,
    seed: int = 0,
    labels: np.ndarray | None = None,
    quality: int = 85,
    artifacts: tuple[np.ndarray, np.ndarray] | None = None,
) -> SyntheticSlide:
    """`artifacts`: (artifact map, nuclei map) of the labels' shape (synthetic_artifacts)."""
    import tifffile

    if labels is None:
        label_downsample = max(1.0, max(width, height) / 2048)
        shape = (max(1, round(height / label_downsample)), max(1, round(width / label_downsample)))
        labels = draw_scene(shape, seed)
    label_downsample = width / labels.shape[1]
    stain = _stain_field(labels.shape, seed)

    path.parent.mkdir(parents=True, exist_ok=True)
    description = (
        f"Aperio Image Library v12.0.15 \n{width}x{height} ({tile}x{tile}) JPEG/RGB Q={quality}"
    )
    if magnification is not None:
        description += f"|AppMag = {magnification:g}"
    if mpp is not None:
        description += f"|MPP = {mpp:g}"
    with tifffile.TiffWriter(path, bigtiff=width * height > 2**31) as tif:
        for index, downsample in enumerate(downsamples):
            level_w, level_h = max(1, width // downsample), max(1, height // downsample)
            tif.write(
                _tiles(
                    labels,
                    stain,
                    label_downsample / downsample,
                    level_w,
                    level_h,
                    tile,
                    seed + index,
                    max(2, round(FAT_CELL_UM / ((mpp or 0.25) * downsample))),
                    artifacts,
                    (mpp or 0.25) * downsample,
                ),
                shape=(level_h, level_w, 3),
                dtype=np.uint8,
                tile=(tile, tile),
                photometric="rgb",
                compression="jpeg",
                compressionargs={"level": quality},
                description=description if index == 0 else f"level {index}",
                subfiletype=0 if index == 0 else 1,
                metadata=None,
            )
    return SyntheticSlide(path, labels, label_downsample, width, height)


def _stain_field(shape: tuple[int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    coarse = rng.random((max(2, shape[0] // 16), max(2, shape[1] // 16))).astype(np.float32)
    return cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def _tiles(
    labels: np.ndarray,
    stain: np.ndarray,
    label_per_pixel_inverse: float,
    level_w: int,
    level_h: int,
    tile: int,
    seed: int,
    fat_period: int,
    artifacts: tuple[np.ndarray, np.ndarray] | None = None,
    pixel_um: float = 0.25,
) -> Iterator[np.ndarray]:
    """Tiles of one level in row-major order; `label_per_pixel_inverse` = level px per label
    px; fat cells repeat every `fat_period` level px."""
    rng = np.random.default_rng(seed)
    # One block of sensor-like noise, sampled at a random offset per tile: cheap and unpatterned.
    noise = rng.normal(0, 4, (2 * tile, 2 * tile, 3)).astype(np.float32)
    palette = np.zeros((len(_COLOURS) + 1, 3), dtype=np.float32)
    for label, colour in _COLOURS.items():
        palette[label] = colour
    septum = max(1, round(fat_period / 10))
    for ty in range(0, level_h, tile):
        for tx in range(0, level_w, tile):
            ys = (
                ((ty + np.arange(tile)) / label_per_pixel_inverse)
                .astype(int)
                .clip(0, labels.shape[0] - 1)
            )
            xs = (
                ((tx + np.arange(tile)) / label_per_pixel_inverse)
                .astype(int)
                .clip(0, labels.shape[1] - 1)
            )
            label_tile = labels[np.ix_(ys, xs)]
            mix = stain[np.ix_(ys, xs)][..., None]
            rgb = palette[label_tile]
            tissue = label_tile == TISSUE
            rgb[tissue] = (mix * _HEMATOXYLIN + (1 - mix) * _EOSIN)[tissue]
            on_septum = (((ty + np.arange(tile)) % fat_period) < septum)[:, None] | (
                ((tx + np.arange(tile)) % fat_period) < septum
            )[None, :]
            rgb[(label_tile == FAT) & on_septum] = _FAT_SEPTUM
            if artifacts is not None:
                artifact_map, nuclei = artifacts
                grid = np.ix_(ys, xs)
                render_artifacts(rgb, label_tile, artifact_map[grid], nuclei[grid], pixel_um)
            oy, ox = rng.integers(0, tile, 2)
            rgb += noise[oy : oy + tile, ox : ox + tile]
            yield rgb.clip(0, 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Write a synthetic pyramidal slide (Aperio-style TIFF)."
    )
    parser.add_argument("path", type=Path)
    parser.add_argument("--width", type=int, default=8000)
    parser.add_argument("--height", type=int, default=6000)
    parser.add_argument("--magnification", type=float, default=40.0)
    parser.add_argument("--mpp", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    slide = write_synthetic_slide(
        args.path, args.width, args.height, args.magnification, args.mpp, seed=args.seed
    )
    print(f"wrote {slide.path} ({slide.width}x{slide.height}, {args.magnification:g}x)")


if __name__ == "__main__":
    main()
