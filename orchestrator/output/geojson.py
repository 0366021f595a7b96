"""A slide's tissue outlines as GeoJSON that QuPath imports (File > Import objects): one
annotation per tissue region, classified "Tissue", its holes as the polygon's inner rings, in
level-0 pixels. Written to a temporary name and renamed when complete."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from atlaspatch.orchestrator.output.atomic import write_bytes_whole

TISSUE = {"name": "Tissue", "color": [0, 200, 0]}


def tissue_features(mask: np.ndarray, downsample: float) -> dict[str, Any]:
    """The regions of `mask` (a thumbnail's, `downsample` level-0 pixels per pixel) as a
    FeatureCollection of Polygons. Outlines run through the boundary pixels' centres;
    regions too small to outline (under three pixels) are left out."""
    found, hierarchy = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE
    )
    rings: dict[int, list[list[list[float]]]] = {}
    if hierarchy is not None:
        for index, (contour, (_, _, _, parent)) in enumerate(zip(found, hierarchy[0], strict=True)):
            ring = _ring(contour, downsample)
            if ring is None:
                continue
            if parent < 0:
                rings[index] = [ring]
            elif parent in rings:
                rings[parent].append(ring)
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": polygon},
            "properties": {"objectType": "annotation", "classification": TISSUE},
        }
        for polygon in rings.values()
    ]
    return {"type": "FeatureCollection", "features": features}


def geojson_path(folder: Path, stem: str) -> Path:
    return folder / f"{stem}.geojson"


def save_geojson(folder: Path, stem: str, mask: np.ndarray, downsample: float) -> Path:
    path = geojson_path(folder, stem)
    write_bytes_whole(path, json.dumps(tissue_features(mask, downsample)).encode())
    return path


def _ring(contour: np.ndarray, downsample: float) -> list[list[float]] | None:
    points = contour.reshape(-1, 2)
    if len(points) < 3:
        return None
    level0 = ((points + 0.5) * downsample).round(1).tolist()
    return [*level0, level0[0]]  # closed, as GeoJSON wants
