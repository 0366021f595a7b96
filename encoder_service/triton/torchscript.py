"""An encoder with its preprocessing, traced to TorchScript for Triton's PyTorch backend."""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F

from atlaspatch.encoder_service.networks.encoder import NetworkEncoder


class _WithPreprocessing(torch.nn.Module):
    """uint8 (B, H, W, 3) -> float32 (B, D), the same steps as NetworkEncoder.embed."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, encoder: NetworkEncoder):
        super().__init__()
        spec = encoder.spec
        self.network = encoder.network
        self.register_buffer("mean", encoder._mean.cpu())
        self.register_buffer("std", encoder._std.cpu())
        self.size = spec.input_size
        self.interpolation = spec.interpolation
        self.dtype = encoder.dtype
        self.cls_and_mean = spec.pooling == "cls_and_mean"
        self.prefix_tokens = spec.prefix_tokens

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        x = patches.permute(0, 3, 1, 2).float().div(255)
        # Always resized: a trace cannot keep the "already the right size" branch, and a
        # resize to the same size is the identity.
        x = F.interpolate(
            x,
            size=(self.size, self.size),
            mode=self.interpolation,
            align_corners=False,
            antialias=True,
        ).clamp(0, 1)
        output = self.network(((x - self.mean) / self.std).to(self.dtype))
        if self.cls_and_mean:
            output = torch.cat([output[:, 0], output[:, self.prefix_tokens :].mean(dim=1)], dim=-1)
        return output.float()


def trace_encoder(encoder: NetworkEncoder) -> torch.jit.ScriptModule:
    module = _WithPreprocessing(encoder).eval()
    example = torch.zeros((2, 256, 256, 3), dtype=torch.uint8)
    # TorchScript is deprecated in torch, but it is what Triton's PyTorch backend loads.
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.trace(module, example, check_trace=False)
