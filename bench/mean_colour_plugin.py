"""A near-free encoder for the throughput bench: the mean colour of each patch (3 numbers).

With it, a run costs what reading, the wire and the service cost, not a network's forward
pass. Load it on both sides: `--feature-plugin bench/mean_colour_plugin.py`.
"""

import numpy as np
import torch

from atlaspatch.encoder_service.custom import CustomEncoderComponents, register_custom_encoder


def _preprocess(image):
    # (H, W, 3) uint8 -> (3, H, W) uint8, without a copy.
    return torch.from_numpy(np.asarray(image)).permute(2, 0, 1)


def _loader(device, dtype):
    def forward(batch: torch.Tensor) -> torch.Tensor:
        return batch.float().mean(dim=(2, 3)) / 255

    return CustomEncoderComponents(torch.nn.Identity(), _preprocess, forward)


def register_feature_extractors(registry, device, dtype, num_workers):
    register_custom_encoder(registry, "mean_colour", 3, _loader, device, dtype, num_workers)
