"""CTransPath (as CHIEF publishes it): timm's Swin-T whose patch embedding is a small
convolutional stem. No package ships the stem, so it is written here from the paper's
description: two stride-2 3x3 convolutions with batch norm and ReLU, then a 1x1 projection."""

from __future__ import annotations

import torch
from torch import nn


class ConvStem(nn.Module):
    """Takes timm's patch-embedding arguments; gives NHWC tokens, as timm's Swin expects."""

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int | tuple[int, int] = 4,
        in_chans: int = 3,
        embed_dim: int = 768,
        norm_layer: type[nn.Module] | None = None,
        **_: object,
    ):
        super().__init__()
        height, width = img_size if isinstance(img_size, tuple) else (img_size, img_size)
        if patch_size not in (4, (4, 4)) or embed_dim % 8:
            raise ValueError("the CTransPath stem downsamples by 4 into a multiple of 8 channels")
        self.img_size = (height, width)
        self.patch_size = (4, 4)
        self.grid_size = (height // 4, width // 4)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        layers: list[nn.Module] = []
        channels_in, channels_out = in_chans, embed_dim // 8
        for _stage in range(2):
            layers += [
                nn.Conv2d(channels_in, channels_out, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(channels_out),
                nn.ReLU(inplace=True),
            ]
            channels_in, channels_out = channels_out, channels_out * 2
        layers.append(nn.Conv2d(channels_in, embed_dim, kernel_size=1))
        self.proj = nn.Sequential(*layers)
        self.norm = norm_layer(embed_dim) if norm_layer else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


def build_ctranspath() -> nn.Module:
    """Pooled (B, 768): the mean of the last stage's tokens, as the reference takes it."""
    import timm

    return timm.create_model(
        "swin_tiny_patch4_window7_224", embed_layer=ConvStem, num_classes=0, pretrained=False
    ).eval()


def published_key(key: str) -> str | None:
    """CHIEF's checkpoint keeps the old Swin layout: each stage's patch merging at its end
    (timm now puts it at the start of the next), and buffers timm rebuilds itself."""
    if "relative_position_index" in key or "attn_mask" in key:
        return None
    for stage in (0, 1, 2):
        old = f"layers.{stage}.downsample."
        if key.startswith(old):
            return f"layers.{stage + 1}.downsample." + key[len(old) :]
    return key
