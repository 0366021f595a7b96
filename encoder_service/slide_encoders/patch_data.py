"""The checks on the patch features a slide model reads: the dimension and patch size it
was made for."""

from __future__ import annotations

from atlaspatch.api.errors import InvalidInput
from atlaspatch.api.slide_features import PatchData
from atlaspatch.encoder_service.slide_encoders.catalog import SlideEncoderFacts


def check_patch_data(data: PatchData, name: str, dim: int, patch_size: int | None) -> None:
    """Refuse features a model was not made for: another dimension or patch size."""
    if data.features.shape[1] != dim:
        raise InvalidInput(
            f"{data.name}: {name} reads {dim}-d patch features, these are "
            f"{data.features.shape[1]}-d"
        )
    if patch_size is not None and data.patch_size != patch_size:
        raise InvalidInput(
            f"{data.name}: {name} needs {patch_size} px patches, these are {data.patch_size} px"
        )


def model_input(data: PatchData, facts: SlideEncoderFacts, dim: int) -> PatchData:
    """`data`, refused unless its features are the ones the model was made for."""
    check_patch_data(data, facts.name, dim, facts.patch_size)
    return data
