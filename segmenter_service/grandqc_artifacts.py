"""GrandQC's artifact model (Weng et al., Nature Communications 2024), on patches: a U-Net with
an EfficientNet-B0 encoder (segmentation-models-pytorch's `Unet`, `timm-efficientnet-b0`), eight
classes, as its authors run it (cpath-ukk/grandqc at 045b7a2, 01_WSI_inference_OPENSLIDE_QC:
wsi_process.py): the picture at the model's microns per pixel (1.0 for `GrandQC_MPP1`),
resized with Lanczos, ImageNet normalisation, argmax. Its weights as a plain state_dict
(`GrandQC_MPP1_state_dict.pth`, as TRIDENT's authors publish them; the Zenodo files are whole
pickled models of old timm releases, which timm 1.x cannot unpickle).

A patch is scored by the share of its pixels in each class. Its side at the model's scale is
padded with white to a multiple of 32, which the U-Net needs, and the padding is not counted.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from atlaspatch.segmenter_service.grandqc_network import PixelClassifier

MODEL_MPP = 1.0
CLASSES = (
    "unassigned",  # 0: never predicted by GrandQC's pipeline, which fills margins with it
    "normal_tissue",
    "fold",
    "dark_spot_or_foreign_object",
    "pen_marking",
    "edge_or_air_bubble",
    "out_of_focus",
    "background",
)
MULTIPLE = 32
MAX_SIDE = 1024  # px at the model's scale: a patch of 512 px at 20x is 256


def artifact_network():  # type: ignore[no-untyped-def]
    import segmentation_models_pytorch as smp

    return smp.Unet(
        encoder_name="timm-efficientnet-b0", encoder_weights=None, classes=8, activation=None
    )


class GrandQCArtifacts:
    name = "grandqc"

    def __init__(self, checkpoint: Path, device: str = "cpu"):
        self._classifier = PixelClassifier(
            artifact_network(),
            checkpoint,
            device,
            "GrandQC's artifact U-Net",
            " (GrandQC's Zenodo files are whole pickled models of old timm releases: use "
            "GrandQC_MPP1_state_dict.pth, as TRIDENT's authors publish it)",
        )

    def shares(self, patches: np.ndarray, patch_mpp: float) -> np.ndarray:
        """(N, len(CLASSES)) float32: each patch's share of pixels in each class. `patches`:
        (N, h, w, 3) uint8 at `patch_mpp` microns per pixel."""
        height, width = patches.shape[1:3]
        size = model_size((height, width), patch_mpp)
        padded = (-(-size[0] // MULTIPLE) * MULTIPLE, -(-size[1] // MULTIPLE) * MULTIPLE)
        batch = np.full((len(patches), padded[0], padded[1], 3), 255, np.uint8)
        for index, patch in enumerate(patches):
            resized = cv2.resize(patch, (size[1], size[0]), interpolation=cv2.INTER_LANCZOS4)
            batch[index, : size[0], : size[1]] = resized
        classes = self._classifier.classes(batch)
        classes = classes[:, : size[0], : size[1]].reshape(len(patches), -1)
        counts = np.stack([np.bincount(row, minlength=len(CLASSES)) for row in classes])
        return (counts / classes.shape[1]).astype(np.float32)

    def provenance(self) -> dict[str, str]:
        return artifacts_provenance(self._classifier.checkpoint, self._classifier.sha256)


def artifacts_provenance(checkpoint: Path, checkpoint_sha256: str) -> dict[str, str]:
    return {
        "artifact_model": "grandqc",
        "architecture": "Unet(timm-efficientnet-b0, classes=8) at 1 um/px",
        "artifact_checkpoint": str(checkpoint),
        "artifact_checkpoint_sha256": checkpoint_sha256,
    }


def model_size(shape: tuple[int, int], patch_mpp: float) -> tuple[int, int]:
    scale = patch_mpp / MODEL_MPP
    return max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale))
