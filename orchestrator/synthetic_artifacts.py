"""Artifacts drawn over a synthetic slide, for the quality bench and tests: their truth is a
map beside the labels, so every patch's artifact is known.

- out of focus: a region whose pixels are blurred (nuclei included: the scene's tissue gets
  nuclei-sized dots, the texture a focus measure reads);
- fold: tissue lying on itself, its stains doubled (the colour squared);
- bubble rims and the coverslip's edge crossing tissue: thin grey lines;
- faint hatched pen of every colour: thin parallel strokes at low opacity, over glass and
  over tissue;
- the scan area's tinted background: glass a little darker and pinker than the white
  outside it, whose edge steps along the scanner's tiles.
"""

from __future__ import annotations

import cv2
import numpy as np

NONE, BLUR, FOLD, BUBBLE_RIM, GREY_BAND = range(5)
FAINT_RED, FAINT_GREEN, FAINT_BLUE, FAINT_BLACK = range(5, 9)
FAINT_PENS = (FAINT_RED, FAINT_GREEN, FAINT_BLUE, FAINT_BLACK)
PEN_COLOURS = {
    FAINT_RED: (170, 20, 35),
    FAINT_GREEN: (40, 130, 80),
    FAINT_BLUE: (40, 60, 170),
    FAINT_BLACK: (40, 38, 44),
}
PEN_OPACITY = 0.35
SCAN_AREA_GLASS = np.array([240, 235, 239], dtype=np.float32)  # as measured on a TCGA scan
OUTSIDE_SCAN = np.array([255, 255, 255], dtype=np.float32)
RIM_COLOUR = np.array([118, 120, 124], dtype=np.float32)
NUCLEUS = np.array([45, 20, 85], dtype=np.float32)
BLUR_SIGMA_UM = 3.0  # a focus miss of a few microns: nuclei become soft blobs


def draw_artifacts(
    labels: np.ndarray, tissue_labels: tuple[int, ...], cellular_labels: tuple[int, ...], seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(artifact map, nuclei map), both of the labels' shape; nuclei in `cellular_labels`."""
    height, width = labels.shape
    rng = np.random.default_rng(seed + 100)
    unit = min(height, width)
    tissue = np.isin(labels, tissue_labels)
    artifacts = np.zeros(labels.shape, np.uint8)

    def region(fx: float, fy: float, rx: float, ry: float, angle: float) -> np.ndarray:
        shape = np.zeros(labels.shape, np.uint8)
        centre = (int(fx * width), int(fy * height))
        cv2.ellipse(shape, centre, (int(rx * unit), int(ry * unit)), angle, 0, 360, 1, -1)
        return shape.astype(bool)

    # The scan area: the scanner's tiles that hold tissue (or lie within a margin of it),
    # so its edge steps; its glass is tinted, the unscanned rest is white.
    margin = max(1, int(0.04 * unit))
    near = cv2.dilate(tissue.astype(np.uint8), np.ones((margin, margin), np.uint8))
    block = max(2, int(0.06 * unit))
    rows, cols = -(-height // block), -(-width // block)
    padded = np.zeros((rows * block, cols * block), np.uint8)
    padded[:height, :width] = near
    scanned = padded.reshape(rows, block, cols, block).max(axis=(1, 3)) > 0
    scan = np.kron(scanned, np.ones((block, block), bool))[:height, :width]
    artifacts[scan & (labels == 0)] = GREY_BAND

    artifacts[region(0.24, 0.45, 0.07, 0.05, 20) & tissue] = BLUR
    artifacts[region(0.72, 0.50, 0.05, 0.04, 0) & tissue] = BLUR
    fold = np.zeros(labels.shape, np.uint8)
    cv2.line(
        fold,
        (int(0.14 * width), int(0.30 * height)),
        (int(0.40 * width), int(0.60 * height)),
        1,
        max(2, int(0.02 * unit)),
    )
    cv2.line(
        fold,
        (int(0.60 * width), int(0.40 * height)),
        (int(0.80 * width), int(0.70 * height)),
        1,
        max(2, int(0.02 * unit)),
    )
    artifacts[(fold > 0) & tissue & (artifacts != BLUR)] = FOLD

    rims = np.zeros(labels.shape, np.uint8)
    rim = max(1, int(0.005 * unit))
    cv2.circle(rims, (int(0.34 * width), int(0.28 * height)), int(0.06 * unit), 1, rim)
    cv2.circle(rims, (int(0.66 * width), int(0.64 * height)), int(0.05 * unit), 1, rim)
    cv2.line(rims, (int(0.50 * width), 0), (int(0.56 * width), height), 1, rim)
    artifacts[rims > 0] = BUBBLE_RIM

    spacing = max(4, int(0.02 * unit))  # strokes of a dry marker, drawn back and forth
    hatch_width = max(1, int(0.006 * unit))
    for index, pen in enumerate(FAINT_PENS):
        # One patch of hatching over glass, one over tissue's edge, per colour.
        for fx, fy in ((0.12 + 0.2 * index, 0.05 + 0.9 * (index % 2)), (0.18 + 0.18 * index, 0.40)):
            area = region(fx, fy, 0.07, 0.045, float(rng.uniform(0, 180)))
            hatch = np.zeros(labels.shape, np.uint8)
            for offset in range(-height, width, spacing):
                cv2.line(hatch, (offset, 0), (offset + height, height), 1, hatch_width)
            strokes = area & (hatch > 0) & (artifacts != BUBBLE_RIM)
            artifacts[strokes] = pen

    cellular = np.isin(labels, cellular_labels)
    nuclei = np.zeros(labels.shape, np.uint8)
    radius = max(1, round(0.0009 * unit))
    for y, x in rng.uniform((0, 0), (height, width), (unit * unit // 30, 2)).astype(int):
        if cellular[y, x]:
            cv2.circle(nuclei, (int(x), int(y)), radius, 1, -1)
    return artifacts, nuclei.astype(bool)


def render_artifacts(
    rgb: np.ndarray,
    label_tile: np.ndarray,
    artifact_tile: np.ndarray,
    nuclei_tile: np.ndarray,
    pixel_um: float,
) -> None:
    """Paint the artifacts into one tile's float RGB (before the sensor's noise), in place."""
    rgb[nuclei_tile] = NUCLEUS
    rgb[artifact_tile == GREY_BAND] = SCAN_AREA_GLASS
    outside = (artifact_tile == NONE) & (label_tile == 0)
    rgb[outside] = OUTSIDE_SCAN
    fold = artifact_tile == FOLD
    rgb[fold] = rgb[fold] * rgb[fold] / 255
    for pen, colour in PEN_COLOURS.items():
        strokes = artifact_tile == pen
        rgb[strokes] = (1 - PEN_OPACITY) * rgb[strokes] + PEN_OPACITY * np.array(colour)
    rgb[artifact_tile == BUBBLE_RIM] = RIM_COLOUR
    blurred = artifact_tile == BLUR
    if blurred.any():
        sigma = max(0.5, BLUR_SIGMA_UM / pixel_um)
        rgb[blurred] = cv2.GaussianBlur(rgb, (0, 0), sigma)[blurred]
