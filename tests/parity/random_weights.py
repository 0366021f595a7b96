"""Seeded random weights that make pooling, token-order and crop errors visible: class and
register tokens, position embeddings and layer scales drawn large, not at their tiny inits."""

from __future__ import annotations

import torch

# Parameters a wrong pooling or ordering would hide behind when left near zero.
LARGE = (
    "cls_token",
    "reg_token",
    "register_tokens",
    "storage_tokens",
    "mask_token",
    "pos_embed",
    "position_embedding",
    "position_embeddings",
    "positional_embedding",
    "class_embedding",
)
LAYER_SCALES = ("ls1.", "ls2.", "layer_scale", "lambda1", "gamma_1", "gamma_2")


def randomise(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if not parameter.is_floating_point():
                continue
            if any(key in name for key in LARGE):
                parameter.copy_(torch.randn(parameter.shape, generator=generator))
            elif any(key in name for key in LAYER_SCALES):
                parameter.copy_(0.5 + 0.5 * torch.rand(parameter.shape, generator=generator))
    return module.eval()


def state_of(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The module's tensors, each its own contiguous copy (safetensors refuses shared ones)."""
    return {key: value.detach().clone().contiguous() for key, value in module.state_dict().items()}
