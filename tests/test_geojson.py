"""--save-geojson: the tissue outlines as QuPath reads GeoJSON (a FeatureCollection of
annotation Polygons, closed rings, holes inside their region, level-0 pixels), drawn back
onto the thumbnail they cover the mask the pipeline segments."""

from __future__ import annotations

import json

import cv2
import numpy as np

from atlaspatch.orchestrator import python_api as ap
from atlaspatch.orchestrator.output.geojson import tissue_features
from tests.cli import coords_run


def test_the_outlines_are_geojson_that_covers_the_tissue_mask(tmp_path, synthetic_slide) -> None:
    result = coords_run(synthetic_slide.path, tmp_path, "--save-geojson")
    assert result.exit_code == 0, result.output
    collection = json.loads((tmp_path / "geojson" / "synthetic-40x.geojson").read_text())
    assert collection["type"] == "FeatureCollection" and collection["features"]

    with ap.open_slide(synthetic_slide.path) as slide:
        mask = slide.segment(ap.segmenter("otsu"))
        width, height = slide.level0_size
        downsample = width / slide.thumbnail.shape[1]
    drawn = np.zeros(mask.shape, np.uint8)
    for feature in collection["features"]:
        assert feature["properties"]["objectType"] == "annotation"
        assert feature["properties"]["classification"]["name"] == "Tissue"
        geometry = feature["geometry"]
        assert geometry["type"] == "Polygon"
        for ring in geometry["coordinates"]:
            assert len(ring) >= 4 and ring[0] == ring[-1]
            points = np.array(ring)
            assert (points >= 0).all() and (points[:, 0] <= width).all()
            assert (points[:, 1] <= height).all()
        exterior, *holes = (
            np.round(np.array(ring) / downsample - 0.5).astype(np.int32)
            for ring in geometry["coordinates"]
        )
        cv2.fillPoly(drawn, [exterior], 1)
        if holes:
            cv2.fillPoly(drawn, holes, 0)
    inter = np.logical_and(drawn, mask).sum()
    union = np.logical_or(drawn, mask).sum()
    assert inter / union > 0.95


def test_a_hole_is_an_inner_ring_of_its_region() -> None:
    mask = np.zeros((40, 40), bool)
    mask[5:35, 5:35] = True
    mask[15:25, 15:25] = False  # a hole
    mask[1:3, 37:39] = True  # a small region of its own
    features = tissue_features(mask, downsample=4.0)["features"]
    rings = sorted(len(f["geometry"]["coordinates"]) for f in features)
    assert rings == [1, 2]
    square = next(f for f in features if len(f["geometry"]["coordinates"]) == 2)
    outer = np.array(square["geometry"]["coordinates"][0])
    assert outer[:, 0].min() == (5 + 0.5) * 4 and outer[:, 0].max() == (34 + 0.5) * 4
