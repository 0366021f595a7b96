"""GrandQC's tissue model (Weng et al., Nature Communications 2024), run as its authors run it
(cpath-ukk/grandqc, wsi_tis_detect.py, read at 045b7a2):

- a UNet++ with an EfficientNet-B0 encoder (segmentation-models-pytorch's `UnetPlusPlus`,
  encoder `timm-efficientnet-b0`), two classes, 0 tissue and 1 background, its weights a
  plain state_dict (`Tissue_Detection_MPP10.pth`);
- the slide at 10 µm per pixel, passed through JPEG at quality 80 (the model was trained on
  JPEG images), cut into 512-px tiles without overlap, the last row and column flush with the
  image's edge, each normalised with ImageNet's mean and deviation;
- the mask is the argmax, with no threshold and no morphology.

The thumbnail it gets is at 1.25x, 8 µm per pixel: it is scaled to 10 µm first, and the mask
back. An image smaller than a tile is padded with white, which the model reads as glass.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from atlaspatch.segmenter_service.grandqc_network import PixelClassifier

MODEL_MPP = 10.0
THUMBNAIL_MPP = 8.0  # 1.25x
TILE = 512
JPEG_QUALITY = 80
TISSUE_CLASS = 0


def tissue_network():  # type: ignore[no-untyped-def]
    """The published architecture, without pretrained encoder weights (none are fetched)."""
    import segmentation_models_pytorch as smp

    return smp.UnetPlusPlus(
        encoder_name="timm-efficientnet-b0", encoder_weights=None, classes=2, activation=None
    )


class GrandQCTissue:
    name = "grandqc"

    def __init__(self, checkpoint: Path, device: str = "cpu"):
        self._classifier = PixelClassifier(
            tissue_network(), checkpoint, device, "GrandQC's UNet++ (EfficientNet-B0)"
        )

    def segment(self, thumbnails: list[np.ndarray]) -> list[np.ndarray]:
        return [self._segment(thumbnail) for thumbnail in thumbnails]

    def provenance(self) -> dict[str, str]:
        return grandqc_provenance(self._classifier.checkpoint, self._classifier.sha256)

    def _segment(self, thumbnail: np.ndarray) -> np.ndarray:
        height, width = thumbnail.shape[:2]
        scale = THUMBNAIL_MPP / MODEL_MPP
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = jpeg_round_trip(cv2.resize(thumbnail, size, interpolation=cv2.INTER_AREA))
        padded = np.full((max(TILE, size[1]), max(TILE, size[0]), 3), 255, np.uint8)
        padded[: size[1], : size[0]] = image
        classes = np.zeros(padded.shape[:2], np.int64)
        for top, left in tile_corners(padded.shape[:2]):
            tile = padded[top : top + TILE, left : left + TILE]
            classes[top : top + TILE, left : left + TILE] = self._classifier.classes(tile[None])[0]
        tissue = (classes[: size[1], : size[0]] == TISSUE_CLASS).astype(np.uint8)
        return cv2.resize(tissue, (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)


def jpeg_round_trip(rgb: np.ndarray) -> np.ndarray:
    ok, encoded = cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return np.asarray(cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED))


def tile_corners(shape: tuple[int, ...]) -> list[tuple[int, int]]:
    """Top-left corners of TILE-px tiles covering `shape` (at least TILE each way): a grid
    without overlap, its last row and column moved back flush with the edge."""
    height, width = shape[:2]
    rows = [min(top, height - TILE) for top in range(0, height, TILE)]
    cols = [min(left, width - TILE) for left in range(0, width, TILE)]
    return [(top, left) for top in rows for left in cols]


def grandqc_provenance(checkpoint: Path, checkpoint_sha256: str) -> dict[str, str]:
    return {
        "tissue_model": "grandqc",
        "architecture": "UnetPlusPlus(timm-efficientnet-b0, classes=2) at 10 um/px, tiles 512",
        "checkpoint": str(checkpoint),
        "checkpoint_sha256": checkpoint_sha256,
    }
