"""AtlasPatch 1.1.0's patch encoders that their authors publish as transformers or open_clip
models, each built from its published configuration (kept here: only weights are fetched)."""

from __future__ import annotations

from typing import Any

from atlaspatch.encoder_service.catalog.shared import (
    CLIP_MEAN,
    CLIP_STD,
    HALF_MEAN,
    HALF_STD,
)
from atlaspatch.encoder_service.catalog.shared import hub_weights as _hub
from atlaspatch.encoder_service.catalog.spec import (
    EncoderSpec,
    HubWeights,
    OpenClipParams,
    TransformersParams,
)

# The image tower of BiomedCLIP and QuiltNet-B-16-PMB (their open_clip_config.json): timm's
# ViT-B/16 with its tokens unpooled, then a linear projection.
PUBMEDBERT_CLIP_TOWER = OpenClipParams(
    embed_dim=512,
    vision_cfg={
        "timm_model_name": "vit_base_patch16_224",
        "timm_model_pretrained": False,
        "timm_pool": "",
        "timm_proj": "linear",
        "image_size": 224,
    },
)
HIBOU_MEAN = (0.7068, 0.5755, 0.722)
HIBOU_STD = (0.195, 0.2316, 0.1816)


def _transformers(
    name: str, dim: int, repo: str, model_class: str, config: dict[str, Any], output: str, **facts
) -> EncoderSpec:
    params = TransformersParams(model_class, config, output, facts.pop("model_args", {}))
    return EncoderSpec(
        name=name,
        embedding_dim=dim,
        architecture=f"transformers.{model_class}",
        weights=facts.pop("weights", None) or _hub(repo, gated=facts.pop("gated", False)),
        params=params,
        family=facts.pop("family", "pathology"),
        builder="transformers",
        **facts,
    )


def _open_clip(
    name: str, dim: int, weights: HubWeights, params: OpenClipParams, **facts
) -> EncoderSpec:
    return EncoderSpec(
        name=name,
        embedding_dim=dim,
        architecture="open_clip",
        weights=weights,
        mean=CLIP_MEAN,
        std=CLIP_STD,
        params=params,
        family="pathology",
        builder="open_clip",
        **facts,
    )


def _clip_vision(patch_size: int) -> dict[str, Any]:
    return {
        "hidden_size": 768,
        "intermediate_size": 3072,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "image_size": 224,
        "patch_size": patch_size,
        "projection_dim": 512,
    }


def _dinov2(hidden: int, layers: int, heads: int, patch: int, **more: Any) -> dict[str, Any]:
    return {
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "mlp_ratio": 4,
        "patch_size": patch,
        "image_size": 224,
        "layerscale_value": 1e-5,
        **more,
    }


def _meta_dinov2(name: str, dim: int, layers: int, heads: int, swiglu: bool = False):
    """Meta's DINOv2 as the reference loads it (facebook/dinov2-*, transformers' Dinov2Model):
    the class token after the last norm; the image processor's shorter side to 256 (bicubic),
    the centre 224."""
    size = {384: "small", 768: "base", 1024: "large", 1536: "giant"}[dim]
    config = {**_dinov2(dim, layers, heads, 14), "image_size": 518, "layerscale_value": 1.0}
    return _transformers(
        name,
        dim,
        f"facebook/dinov2-{size}",
        "Dinov2Model",
        {**config, "use_swiglu_ffn": swiglu, "layer_norm_eps": 1e-6},
        "cls",
        resize_to=256,
        family="dinov2",
        license="apache-2.0",
        features_version=2,
    )


def _meta_dinov3(name: str, repo_size: str, dim: int, layers: int, heads: int) -> EncoderSpec:
    """Meta's DINOv3 as the reference loads it (facebook/dinov3-*, transformers'
    DINOv3ViTModel, their published config.json): pooler_output, the class token after the
    last norm; the image processor resizes to 224, bilinear, no crop."""
    config = {
        "hidden_size": dim,
        "intermediate_size": 4 * dim,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "patch_size": 16,
        "image_size": 224,
        "num_register_tokens": 4,
        "layerscale_value": 1.0,
        "layer_norm_eps": 1e-5,
        "key_bias": False,
        "rope_theta": 100.0,
        "pos_embed_rescale": 2.0,
        "use_gated_mlp": False,
    }
    return _transformers(
        name,
        dim,
        f"facebook/dinov3-{repo_size}-pretrain-lvd1689m",
        "DINOv3ViTModel",
        config,
        "pooler",
        interpolation="bilinear",
        family="dinov3",
        license="dinov3-license",
        features_version=2,
    )


def hf_specs() -> list[EncoderSpec]:
    clip = {"mean": CLIP_MEAN, "std": CLIP_STD}
    return [
        _meta_dinov3("dinov3_vits16", "vits16", 384, 12, 6),
        _meta_dinov3("dinov3_vitb16", "vitb16", 768, 12, 12),
        _meta_dinov3("dinov3_vitl16", "vitl16", 1024, 24, 16),
        _meta_dinov2("dinov2_small", 384, 12, 6),
        _meta_dinov2("dinov2_base", 768, 12, 12),
        _meta_dinov2("dinov2_large", 1024, 24, 16),
        _meta_dinov2("dinov2_giant", 1536, 40, 24, swiglu=True),
        _transformers(
            "phikon_v1",
            768,
            "owkin/phikon",
            "ViTModel",
            {
                "hidden_size": 768,
                "intermediate_size": 3072,
                "num_hidden_layers": 12,
                "num_attention_heads": 12,
                "image_size": 224,
                "patch_size": 16,
                "layer_norm_eps": 1e-6,
            },
            "cls",
            interpolation="bilinear",
            features_version=2,
            model_args={"add_pooling_layer": False},
            license="owkin-non-commercial",
        ),
        _transformers(
            "phikon_v2",
            1024,
            "owkin/phikon-v2",
            "Dinov2Model",
            _dinov2(1024, 24, 16, 16),
            "cls",
            license="owkin-non-commercial",
        ),
        _transformers(
            "hibou_b",
            768,
            "histai/hibou-B",
            "Dinov2WithRegistersModel",
            _dinov2(768, 12, 12, 14, num_register_tokens=4, use_swiglu_ffn=True),
            "pooler",
            mean=HIBOU_MEAN,
            std=HIBOU_STD,
            license="apache-2.0",
        ),
        _transformers(
            "hibou_l",
            1024,
            "histai/hibou-L",
            "Dinov2WithRegistersModel",
            _dinov2(1024, 24, 16, 14, num_register_tokens=4),
            "pooler",
            mean=HIBOU_MEAN,
            std=HIBOU_STD,
            license="apache-2.0",
        ),
        _transformers(
            "midnight",
            3072,
            "kaiko-ai/midnight",
            "Dinov2Model",
            _dinov2(1536, 40, 24, 14, use_swiglu_ffn=True),
            "tokens",
            mean=HALF_MEAN,
            std=HALF_STD,
            interpolation="bilinear",
            pooling="cls_and_mean",
            license="mit",
        ),
        _transformers(
            "plip",
            512,
            "vinid/plip",
            "CLIPVisionModelWithProjection",
            _clip_vision(32),
            "image_embeds",
            **clip,
        ),
        _transformers(
            "quilt_b_32",
            512,
            "wisdomik/QuiltNet-B-32",
            "CLIPVisionModelWithProjection",
            _clip_vision(32),
            "image_embeds",
            **clip,
        ),
        _transformers(
            "quilt_b_16",
            512,
            "wisdomik/QuiltNet-B-16",
            "CLIPVisionModelWithProjection",
            _clip_vision(16),
            "image_embeds",
            **clip,
        ),
        _transformers(
            "medsiglip",
            1152,
            "google/medsiglip-448",
            "SiglipVisionModel",
            {
                "hidden_size": 1152,
                "intermediate_size": 4304,
                "num_hidden_layers": 27,
                "num_attention_heads": 16,
                "image_size": 448,
                "patch_size": 16,
            },
            "pooler",
            input_size=448,
            mean=HALF_MEAN,
            std=HALF_STD,
            interpolation="bilinear",
            gated=True,
            license="health-ai-developer-foundations",
        ),
        _open_clip(
            "biomedclip",
            512,
            _hub(
                "microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224",
                "open_clip_pytorch_model.bin",
            ),
            PUBMEDBERT_CLIP_TOWER,
            license="mit",
        ),
        _open_clip(
            "quilt_b_16_pmb",
            512,
            _hub("wisdomik/QuiltNet-B-16-PMB", "open_clip_pytorch_model.bin"),
            # Its open_clip_config.json: BiomedCLIP's tower, not open_clip's own ViT-B/16.
            PUBMEDBERT_CLIP_TOWER,
            license="mit",
        ),
        _open_clip(
            "omiclip",
            768,
            _hub("WangGuangyuLab/Loki", "checkpoint.pt"),
            OpenClipParams(model="coca_ViT-L-14", normalize=True),
            license="bsd-3-clause",
        ),
    ]
