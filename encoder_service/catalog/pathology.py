"""Pathology foundation models published as timm checkpoints (gated on the hub)."""

from __future__ import annotations

from atlaspatch.encoder_service.catalog.shared import (
    GIANT_REG4,
    HOPTIMUS_MEAN,
    HOPTIMUS_STD,
    SWIGLU,
)
from atlaspatch.encoder_service.catalog.spec import EncoderSpec, HubWeights, TimmParams


def _gated(name: str, dim: int, architecture: str, repo: str, license: str, **facts) -> EncoderSpec:
    """A pathology foundation model whose timm checkpoint is gated on the hub."""
    return EncoderSpec(
        name=name,
        embedding_dim=dim,
        architecture=architecture,
        weights=HubWeights(repo, ("pytorch_model.bin",), gated=True),
        family="pathology",
        license=license,
        **facts,
    )


def pathology_specs() -> list[EncoderSpec]:
    """Pathology foundation models published as timm checkpoints; all need HF_TOKEN access."""
    vit_l = {"img_size": 224, "init_values": 1e-5, "num_classes": 0, "dynamic_img_size": True}
    virchow = {
        "img_size": 224,
        "init_values": 1e-5,
        "num_classes": 0,
        "mlp_ratio": 5.3375,
        "global_pool": "",
        "dynamic_img_size": True,
        **SWIGLU,
    }
    # The reference resizes H-optimus' patches with torchvision's default, bilinear.
    h_optimus = {
        "params": TimmParams(GIANT_REG4),
        "mean": HOPTIMUS_MEAN,
        "std": HOPTIMUS_STD,
        "interpolation": "bilinear",
        "features_version": 2,
    }
    virchow_pooling = {"pooling": "cls_and_mean"}
    return [
        _gated(
            "uni_v1",
            1024,
            "vit_large_patch16_224",
            "MahmoodLab/uni",  # as the reference names it: its hub cache folder is this
            "cc-by-nc-nd-4.0",
            params=TimmParams(vit_l),
            interpolation="bilinear",
            features_version=2,
        ),
        _gated(
            "uni_v2",
            1536,
            "vit_giant_patch14_224",
            "MahmoodLab/UNI2-h",
            "cc-by-nc-nd-4.0",
            params=TimmParams(
                {
                    "img_size": 224,
                    "patch_size": 14,
                    "depth": 24,
                    "num_heads": 24,
                    "init_values": 1e-5,
                    "embed_dim": 1536,
                    "mlp_ratio": 2.66667 * 2,
                    "num_classes": 0,
                    "no_embed_class": True,
                    "reg_tokens": 8,
                    "dynamic_img_size": True,
                    **SWIGLU,
                }
            ),
        ),
        _gated(
            "virchow",
            2560,
            "vit_huge_patch14_224",
            "paige-ai/Virchow",
            "apache-2.0",
            params=TimmParams(virchow),
            prefix_tokens=1,
            **virchow_pooling,
        ),
        _gated(
            "virchow2",
            2560,
            "vit_huge_patch14_224",
            "paige-ai/Virchow2",
            "cc-by-nc-nd-4.0",
            params=TimmParams({**virchow, "reg_tokens": 4}),
            prefix_tokens=5,
            **virchow_pooling,
        ),
        _gated(
            "prov_gigapath",
            1536,
            "vit_giant_patch14_dinov2",
            "prov-gigapath/prov-gigapath",
            "apache-2.0",
            # Published with 16 px patches on timm's ViT-g/14 (which would otherwise resample
            # the kernels silently); the reference resizes to 256 and keeps the centre 224.
            params=TimmParams(
                {"img_size": 224, "patch_size": 16, "num_classes": 0, "init_values": 1e-5}
            ),
            resize_to=256,
            features_version=2,
        ),
        _gated(
            "h_optimus_0",
            1536,
            "vit_giant_patch14_reg4_dinov2",
            "bioptimus/H-optimus-0",
            "apache-2.0",
            **h_optimus,
        ),
        _gated(
            "h_optimus_1",
            1536,
            "vit_giant_patch14_reg4_dinov2",
            "bioptimus/H-optimus-1",
            "cc-by-nc-nd-4.0",
            **h_optimus,
        ),
    ]
