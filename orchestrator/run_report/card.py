"""A slide's card for the QC page: `report_files/<stem>.jpg` (the thumbnail with the tissue
outlined and the kept patches shaded) and `report_files/<stem>.json` (what the page says of it).

Written by every run that reaches a slide's mask, failed or not: the picture is often the
quickest way to see why a slide failed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from atlaspatch.orchestrator.coordinates.plan import CoordsPlan
from atlaspatch.orchestrator.coordinates.regions import trace_contours
from atlaspatch.orchestrator.output.atomic import write_bytes_whole
from atlaspatch.orchestrator.slides.opened import OpenedSlide

log = logging.getLogger(__name__)

LONG_SIDE = 512
JPEG_QUALITY = 85
TISSUE_LINE = (0, 170, 0)
HOLE_LINE = (0, 90, 255)
PATCH_SHADE = np.array([255, 200, 0], dtype=np.float32)
UNUSABLE_SHADE = np.array([230, 0, 40], dtype=np.float32)  # a quality score over its threshold
MIN_OUTLINED_CELL = 6  # px on the card: below it, patch outlines would only blur the picture


def save_card(
    folder: Path,
    slide: OpenedSlide,
    mask: np.ndarray,
    plan: CoordsPlan | None,
    geojson: Path | None = None,
) -> None:
    """Never fails the slide: a card that cannot be written is only missing from the page."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        stem = slide.source.stem
        picture = card_picture(slide.thumbnail.pixels, mask, slide.level0_size, plan)
        write_bytes_whole(folder / f"{stem}.jpg", _jpeg(picture))
        facts = card_facts(slide, mask, plan, geojson)
        write_bytes_whole(folder / f"{stem}.json", json.dumps(facts, indent=1).encode())
    except Exception as exc:
        log.warning("%s: the QC card was not written: %s", slide.source.stem, exc)


def card_facts(
    slide: OpenedSlide, mask: np.ndarray, plan: CoordsPlan | None, geojson: Path | None
) -> dict[str, Any]:
    scale = slide.scale
    facts: dict[str, Any] = {
        "slide": slide.source.name,
        "path": str(slide.source.path.absolute()),
        "tissue_percent": round(100 * float(mask.mean()), 2),
        "level0_size": list(slide.level0_size),
        "magnification": scale.magnification,
        "mpp": scale.mpp,
        "magnification_source": scale.source,
        "picture": f"{slide.source.stem}.jpg",
        "geojson": str(geojson) if geojson is not None else None,
    }
    if plan is not None:
        facts |= {
            "patches": int(len(plan.xy)),
            "grid_positions_on_tissue": int(plan.candidates),
            "patch_size_level0": int(plan.geometry.size_level0),
        }
    if plan is not None and plan.verdict is not None:
        facts |= {
            "unusable": int((~plan.verdict.usable).sum()),
            "dropped_unusable": plan.verdict.dropped,
            "quality_source": plan.verdict.quality.source,
        }
    return facts


def card_picture(
    thumbnail: np.ndarray,
    mask: np.ndarray,
    level0_size: tuple[int, int],
    plan: CoordsPlan | None,
) -> np.ndarray:
    """RGB: the thumbnail scaled to LONG_SIDE, patches shaded (unusable ones red), tissue
    outlined."""
    height, width = thumbnail.shape[:2]
    factor = LONG_SIDE / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    image = cv2.resize(thumbnail, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    if plan is not None and len(plan.xy):
        per_level0 = size[0] / level0_size[0]
        cells = _patch_cells(size, plan.xy, plan.geometry.size_level0, per_level0)
        image[cells > 0] = 0.65 * image[cells > 0] + 0.35 * PATCH_SHADE
        if plan.verdict is not None and not plan.verdict.usable.all():
            unusable = plan.xy[~plan.verdict.usable]
            bad = _patch_cells(size, unusable, plan.geometry.size_level0, per_level0) > 0
            image[bad] = 0.5 * image[bad] + 0.5 * UNUSABLE_SHADE
    image = np.ascontiguousarray(image.astype(np.uint8))
    if plan is not None and len(plan.xy):
        side = plan.geometry.size_level0 * size[0] / level0_size[0]
        if side >= MIN_OUTLINED_CELL:
            _outline_cells(image, plan.xy, size[0] / level0_size[0], round(side))
    small_mask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    contours = trace_contours(small_mask)
    cv2.drawContours(image, contours.tissue, -1, TISSUE_LINE, thickness=2)
    cv2.drawContours(image, contours.holes, -1, HOLE_LINE, thickness=1)
    return image


def _patch_cells(
    size: tuple[int, int], xy: np.ndarray, side_level0: int, per_level0: float
) -> np.ndarray:
    cells = np.zeros((size[1], size[0]), dtype=np.uint8)
    side = max(1, round(side_level0 * per_level0))
    for x, y in np.round(xy * per_level0).astype(int):
        cells[max(y, 0) : y + side, max(x, 0) : x + side] = 1
    return cells


def _outline_cells(image: np.ndarray, xy: np.ndarray, per_level0: float, side: int) -> None:
    for x, y in np.round(xy * per_level0).astype(int):
        cv2.rectangle(image, (x, y), (x + side - 1, y + side - 1), (150, 110, 0), 1)


def _jpeg(rgb: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    )
    if not ok:
        raise OSError("JPEG encoding failed")
    return encoded.tobytes()
