"""The reference's ImageNet backbones, as it builds them: torchvision's networks and weights
(each weights enum's IMAGENET1K_V1, SWAG for ViT-H/14, which has none), the classifier
replaced by Identity, and the weights' own eval transform."""

from __future__ import annotations

from atlaspatch.encoder_service.catalog.spec import EncoderSpec, TorchvisionParams, UrlWeights

TORCHVISION_URL = "https://download.pytorch.org/models/"


def _torchvision(
    name: str,
    dim: int,
    weights_file: str,
    head: str,
    resize_to: int,
    input_size: int = 224,
    interpolation: str = "bilinear",
    license: str = "bsd-3-clause",
) -> EncoderSpec:
    """torchvision's network and ImageNet weights, with its weights enum's eval transform:
    the shorter side to resize_to, the centre input_size kept."""
    constructor: dict[str, int] = {"num_classes": 1000}
    if input_size != 224:
        constructor["image_size"] = input_size  # ViT's position grid (224 by default)
    return EncoderSpec(
        name=name,
        embedding_dim=dim,
        architecture=name,
        weights=UrlWeights(TORCHVISION_URL + weights_file),
        input_size=input_size,
        resize_to=resize_to,
        interpolation=interpolation,
        params=TorchvisionParams(head, constructor),
        family=name.rstrip("0123456789").split("_")[0],
        license=license,
        builder="torchvision",
        features_version=2,
    )


def torchvision_specs() -> list[EncoderSpec]:
    """ConvNeXt's pooled features come before its final LayerNorm, ViT's class token after it."""
    return [
        _torchvision("resnet18", 512, "resnet18-f37072fd.pth", "fc", 256),
        _torchvision("resnet34", 512, "resnet34-b627a593.pth", "fc", 256),
        _torchvision("resnet50", 2048, "resnet50-0676ba61.pth", "fc", 256),
        _torchvision("resnet101", 2048, "resnet101-63fe2227.pth", "fc", 256),
        _torchvision("resnet152", 2048, "resnet152-394f9c45.pth", "fc", 256),
        _torchvision("convnext_tiny", 768, "convnext_tiny-983f1562.pth", "classifier", 236),
        _torchvision("convnext_small", 768, "convnext_small-0c510722.pth", "classifier", 230),
        _torchvision("convnext_base", 1024, "convnext_base-6075fbad.pth", "classifier", 232),
        _torchvision("convnext_large", 1536, "convnext_large-ea097f82.pth", "classifier", 232),
        _torchvision("vit_b_16", 768, "vit_b_16-c867db91.pth", "heads", 256),
        _torchvision("vit_b_32", 768, "vit_b_32-d86f8d99.pth", "heads", 256),
        _torchvision("vit_l_16", 1024, "vit_l_16-852ce7e3.pth", "heads", 242),
        _torchvision("vit_l_32", 1024, "vit_l_32-c7638314.pth", "heads", 256),
        _torchvision(
            "vit_h_14",
            1280,
            "vit_h_14_swag-80465313.pth",
            "heads",
            518,
            input_size=518,
            interpolation="bicubic",
            license="cc-by-nc-4.0",
        ),
    ]
