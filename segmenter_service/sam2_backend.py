"""SAM2.1 Hiera-tiny tissue segmentation, as AtlasPatch does it.

Each thumbnail is resized to the model's 1024 x 1024 input, prompted with one box covering
the whole image, and the single mask (logits > 0) is resized back to the thumbnail.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from atlaspatch.api.errors import Refused
from atlaspatch.api.hosting.model_files import file_sha256

SAM2_CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
MODEL_INPUT = 1024


class CheckpointFormatError(Refused):
    pass


class Sam2Segmenter:
    name = "sam2"

    def __init__(self, checkpoint: Path, device: str = "cpu"):
        import torch
        from sam2.build_sam import build_sam2
        from sam2.sam2_image_predictor import SAM2ImagePredictor

        self.checkpoint = checkpoint
        self.device = device
        self._checkpoint_sha256 = file_sha256(checkpoint)
        # AtlasPatch builds the bare model from the config, without build_sam2's extra
        # post-processing switches; its fine-tuned weights expect exactly that.
        model = build_sam2(SAM2_CONFIG, ckpt_path=None, device="cpu", apply_postprocessing=False)
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or "model" not in state:
            raise CheckpointFormatError(
                f"{checkpoint} is not an AtlasPatch SAM2 checkpoint "
                "(expected a dict with key 'model')"
            )
        missing, unexpected = model.load_state_dict(state["model"], strict=False)
        if missing or unexpected:
            raise CheckpointFormatError(
                f"{checkpoint} does not fit SAM2.1 Hiera-tiny: {len(missing)} missing and "
                f"{len(unexpected)} unexpected keys (first: {(missing or unexpected)[0]})"
            )
        model = model.to(device).eval()
        self._predictor = SAM2ImagePredictor(model, mask_threshold=0.0)
        self._torch = torch

    def segment(self, thumbnails: list[np.ndarray]) -> list[np.ndarray]:
        if not thumbnails:
            return []
        inputs = [
            cv2.resize(t, (MODEL_INPUT, MODEL_INPUT), interpolation=cv2.INTER_LINEAR)
            for t in thumbnails
        ]
        box = np.array([0, 0, MODEL_INPUT, MODEL_INPUT], dtype=np.float32)
        with self._torch.inference_mode():
            self._predictor.set_image_batch(inputs)
            masks, _, _ = self._predictor.predict_batch(
                box_batch=[box] * len(inputs), multimask_output=False
            )
        results = []
        for thumbnail, mask in zip(thumbnails, masks, strict=True):
            mask = np.asarray(mask).reshape(-1, MODEL_INPUT, MODEL_INPUT)[0] > 0
            height, width = thumbnail.shape[:2]
            resized = cv2.resize(
                mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST
            )
            results.append(resized.astype(bool))
        return results

    def provenance(self) -> dict[str, str]:
        return sam2_provenance(self.checkpoint, self._checkpoint_sha256)


def sam2_provenance(checkpoint: Path, checkpoint_sha256: str) -> dict[str, str]:
    return {
        "tissue_model": "sam2",
        "sam2_config": SAM2_CONFIG,
        "checkpoint": str(checkpoint),
        "checkpoint_sha256": checkpoint_sha256,
    }
