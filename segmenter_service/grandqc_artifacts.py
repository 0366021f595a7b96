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

from atlaspatch.api.errors import Refused
from atlaspatch.api.hosting.model_files import file_sha256

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
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
MULTIPLE = 32
MAX_SIDE = 1024  # px at the model's scale: a patch of 512 px at 20x is 256


class GrandQCArtifactCheckpointError(Refused):
    pass


def artifact_network():  # type: ignore[no-untyped-def]
    import segmentation_models_pytorch as smp

    return smp.Unet(
        encoder_name="timm-efficientnet-b0", encoder_weights=None, classes=8, activation=None
    )


class GrandQCArtifacts:
    name = "grandqc"

    def __init__(self, checkpoint: Path, device: str = "cpu"):
        import torch

        self.checkpoint = checkpoint
        self._sha256 = file_sha256(checkpoint)
        network = artifact_network()
        try:
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        except Exception:
            state = None  # a pickled model (GrandQC's Zenodo files) is refused unread
        if not isinstance(state, dict):
            raise GrandQCArtifactCheckpointError(
                f"{checkpoint} is not a state_dict (GrandQC's Zenodo files are whole pickled "
                "models of old timm releases: use GrandQC_MPP1_state_dict.pth, as TRIDENT's "
                "authors publish it)"
            )
        try:
            network.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = str(exc).splitlines()[1:2] or [str(exc)]
            raise GrandQCArtifactCheckpointError(
                f"{checkpoint} does not fit GrandQC's artifact U-Net: {first[0].strip()}"
            ) from None
        self._network = network.to(device).eval()
        self._device = device
        self._torch = torch

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
        normalised = (batch.astype(np.float32) / 255 - MEAN) / STD
        tensor = self._torch.from_numpy(normalised.transpose(0, 3, 1, 2).copy()).to(self._device)
        with self._torch.inference_mode():
            classes = self._network(tensor).argmax(dim=1).cpu().numpy()
        classes = classes[:, : size[0], : size[1]].reshape(len(patches), -1)
        counts = np.stack([np.bincount(row, minlength=len(CLASSES)) for row in classes])
        return (counts / classes.shape[1]).astype(np.float32)

    def provenance(self) -> dict[str, str]:
        return {
            "artifact_model": "grandqc",
            "architecture": "Unet(timm-efficientnet-b0, classes=8) at 1 um/px",
            "artifact_checkpoint": str(self.checkpoint),
            "artifact_checkpoint_sha256": self._sha256,
        }


def model_size(shape: tuple[int, int], patch_mpp: float) -> tuple[int, int]:
    scale = patch_mpp / MODEL_MPP
    return max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale))
