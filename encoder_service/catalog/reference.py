"""The patch encoders AtlasPatch 1.1.0 added beyond its README: each with the network its
authors publish (built with timm, transformers or open_clip from the published configuration,
or by its authors' code where only that builds it), its weights' location, its
preprocessing and the reference's dimension."""

from __future__ import annotations

from atlaspatch.encoder_service.catalog.hf import hf_specs
from atlaspatch.encoder_service.catalog.shared import (
    CLIP_MEAN,
    CLIP_STD,
    HALF_MEAN,
    HALF_STD,
    HOPTIMUS_MEAN,
    HOPTIMUS_STD,
    SWIGLU,
    hub_weights,
)
from atlaspatch.encoder_service.catalog.spec import (
    EncoderSpec,
    HubWeights,
    ManualWeights,
    TimmParams,
)

CHIEF_DRIVE = "https://drive.google.com/uc?id=1_vgRF1QXa8sPCOpJ1S9BihwZhXQMOVJc"


def _lunit(name: str, dim: int, timm_name: str, crop_pct: float) -> EncoderSpec:
    # The hub repository's config.json decides the preprocessing when it is there, as
    # timm's data config does for the reference; these are its published values (timm's
    # a1_in1k ResNet-50 and DINO ViT-S settings, ImageNet statistics, bicubic).
    return EncoderSpec(
        name=name,
        embedding_dim=dim,
        architecture=timm_name.split(".")[0],
        weights=hub_weights(f"1aurent/{timm_name}"),
        crop_pct=crop_pct,
        features_version=2,
        family="pathology",
        license="lunit-non-commercial",
        preprocessing_from_hub=True,
    )


def _external(name: str, dim: int, weights: HubWeights, needs: str, **facts) -> EncoderSpec:
    return EncoderSpec(
        name=name,
        embedding_dim=dim,
        weights=weights,
        family="pathology",
        builder="external",
        needs=needs,
        interpolation="bicubic",
        **facts,
    )


def reference_specs() -> list[EncoderSpec]:
    clip = {"mean": CLIP_MEAN, "std": CLIP_STD}
    return [
        _lunit("lunit_resnet50_bt", 2048, "resnet50.lunit_bt", 0.95),
        _lunit("lunit_resnet50_swav", 2048, "resnet50.lunit_swav", 0.95),
        _lunit("lunit_resnet50_mocov2", 2048, "resnet50.lunit_mocov2", 0.95),
        _lunit("lunit_vit_small_patch16_dino", 384, "vit_small_patch16_224.lunit_dino", 0.9),
        _lunit("lunit_vit_small_patch8_dino", 384, "vit_small_patch8_224.lunit_dino", 0.9),
        EncoderSpec(
            name="pathorchestra",
            embedding_dim=1024,
            architecture="vit_large_patch16_224",
            weights=hub_weights("AI4Pathology/PathOrchestra", gated=True),
            interpolation="bilinear",
            params=TimmParams({"num_classes": 0, "init_values": 1e-5, "dynamic_img_size": True}),
            family="pathology",
        ),
        EncoderSpec(
            name="h0_mini",
            embedding_dim=1536,
            architecture="vit_base_patch14_reg4_dinov2",
            weights=hub_weights("bioptimus/H0-mini", gated=True),
            mean=HOPTIMUS_MEAN,
            std=HOPTIMUS_STD,
            params=TimmParams(
                {
                    "img_size": 224,
                    "init_values": 1e-5,
                    "num_classes": 0,
                    "global_pool": "",
                    "dynamic_img_size": False,
                    **SWIGLU,
                }
            ),
            pooling="cls_and_mean",
            prefix_tokens=5,
            family="pathology",
            license="cc-by-nc-nd-4.0",
            preprocessing_from_hub=True,
        ),
        EncoderSpec(
            name="chief-ctranspath",
            embedding_dim=768,
            architecture="swin_tiny_patch4_window7_224 with CTransPath's convolutional stem",
            weights=ManualWeights(CHIEF_DRIVE, "CHIEF_CTransPath.pth"),
            interpolation="bilinear",
            family="pathology",
            builder="ctranspath",
            license="agpl-3.0",
        ),
        EncoderSpec(
            name="openmidnight",
            embedding_dim=1536,
            architecture="vit_giant_patch14_reg4_dinov2",
            weights=hub_weights("SophontAI/OpenMidnight", "teacher_checkpoint_load.pt"),
            interpolation="bilinear",
            params=TimmParams({"img_size": 224, "num_classes": 0}),
            family="pathology",
        ),
        *hf_specs(),  # published as transformers or open_clip models
        _external(
            "conch_v1",
            512,
            hub_weights("MahmoodLab/conch", "pytorch_model.bin", gated=True),
            "the conch package (pip install conch-fork==0.1.0, a packaged copy of "
            "github.com/Mahmoodlab/CONCH)",
            architecture="conch_ViT-B-16",
            input_size=448,
            license="cc-by-nc-nd-4.0",
            **clip,
        ),
        _external(
            "conch_v15",
            768,
            hub_weights("MahmoodLab/TITAN", "conch_v1_5.py", gated=True),
            "TITAN's own code: conch_v1_5.py and configuration_titan.py from the gated "
            "MahmoodLab/TITAN hub repository, with einops and einops-exts",
            architecture="conch_v1_5 (ViT-L/16 from MahmoodLab/TITAN)",
            input_size=448,
            license="cc-by-nc-nd-4.0",
        ),
        _external(
            "musk",
            1024,
            hub_weights("xiangjx/musk", "model.safetensors"),
            "the musk package (pip install git+https://github.com/lilab-stanford/MUSK.git) "
            "and torchscale",
            architecture="musk_large_patch16_384",
            input_size=384,
            mean=HALF_MEAN,
            std=HALF_STD,
            license="cc-by-nc-nd-4.0",
        ),
    ]
