"""Patch coordinates from a tissue mask, vectorised.

One global grid starts at level-0 (0, 0) and steps by the geometry's stride; a position is
a candidate when the whole patch lies inside the slide (with `edge_patches`, when it starts
inside: the part beyond the edge counts as no tissue). Each candidate's tissue fraction is
the share of its footprint that the mask marks as tissue, computed exactly (for a mask that
is constant over each of its pixels) from the mask's integral image with bilinear
interpolation at the footprint's fractional corners. A patch is kept when that fraction is
at least `min_tissue_fraction`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from atlaspatch.orchestrator.coordinates.geometry import PatchGeometry


@dataclass(frozen=True)
class PatchGrid:
    xy: np.ndarray  # (N, 2) int64 level-0 top-left corners, row-major (y, then x)
    tissue_fraction: np.ndarray  # (N,) float32
    positions_evaluated: int


def grid_axes(length0: int, geometry: PatchGeometry, edge_patches: bool = False) -> np.ndarray:
    """Top-left level-0 offsets along one axis of patches that fit inside the slide (or, with
    `edge_patches`, that start inside it)."""
    if edge_patches:
        return np.arange(0, length0, geometry.step_level0, dtype=np.int64)
    if length0 < geometry.size_level0:
        return np.empty(0, dtype=np.int64)
    return np.arange(0, length0 - geometry.size_level0 + 1, geometry.step_level0, dtype=np.int64)


def tissue_fractions(
    mask: np.ndarray, level0_size: tuple[int, int], xs: np.ndarray, ys: np.ndarray, size0: int
) -> np.ndarray:
    """(len(ys), len(xs)) share of tissue under each patch of side `size0` at (x, y)."""
    width0, height0 = level0_size
    mask_h, mask_w = mask.shape
    integral = cv2.integral(mask.astype(np.uint8, copy=False), sdepth=cv2.CV_32S)

    scale_x, scale_y = mask_w / width0, mask_h / height0
    u0, u1 = xs * scale_x, (xs + size0) * scale_x
    v0, v1 = ys * scale_y, (ys + size0) * scale_y

    def area_to(v: np.ndarray, u: np.ndarray) -> np.ndarray:
        return _bilinear(integral, v[:, None], u[None, :])

    area = area_to(v1, u1) - area_to(v0, u1) - area_to(v1, u0) + area_to(v0, u0)
    footprint = np.outer(v1 - v0, u1 - u0)
    return (area / footprint).clip(0.0, 1.0)


def tissue_grid(
    mask: np.ndarray,
    level0_size: tuple[int, int],
    geometry: PatchGeometry,
    min_tissue_fraction: float,
    edge_patches: bool = False,
) -> PatchGrid:
    xs = grid_axes(level0_size[0], geometry, edge_patches)
    ys = grid_axes(level0_size[1], geometry, edge_patches)
    if xs.size == 0 or ys.size == 0:
        return PatchGrid(np.empty((0, 2), np.int64), np.empty(0, np.float32), 0)
    fraction = tissue_fractions(mask, level0_size, xs, ys, geometry.size_level0)
    # A fully covered patch must not be lost to rounding in the integral image.
    keep = (fraction >= min_tissue_fraction - 1e-9) & (fraction > 0)
    rows, cols = np.nonzero(keep)
    xy = np.stack([xs[cols], ys[rows]], axis=1)
    return PatchGrid(xy, fraction[rows, cols].astype(np.float32), xs.size * ys.size)


def _bilinear(table: np.ndarray, v: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Sample `table` at fractional (v, u) with bilinear weights; v, u broadcast together."""
    max_v, max_u = table.shape[0] - 1, table.shape[1] - 1
    v = np.clip(v, 0, max_v)
    u = np.clip(u, 0, max_u)
    # The table is at least 2x2 (a mask pixel plus the zero border), so lo + 1 is in range.
    v_lo = np.minimum(np.floor(v).astype(np.int64), max_v - 1)
    u_lo = np.minimum(np.floor(u).astype(np.int64), max_u - 1)
    fv, fu = v - v_lo, u - u_lo
    v_hi, u_hi = v_lo + 1, u_lo + 1
    top = table[v_lo, u_lo] * (1 - fu) + table[v_lo, u_hi] * fu
    bottom = table[v_hi, u_lo] * (1 - fu) + table[v_hi, u_hi] * fu
    return top * (1 - fv) + bottom * fv
