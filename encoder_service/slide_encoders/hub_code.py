"""Models whose code lives in their Hugging Face repository (TITAN, PRISM), loaded as the
reference loads them: the classes through transformers' remote-code loader, from a local copy
of the repository or the HF cache, then the weights from `model.safetensors`."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch

from atlaspatch.encoder_service.slide_encoders.base import MissingPackage
from atlaspatch.encoder_service.slide_encoders.catalog import SlideEncoderFacts
from atlaspatch.encoder_service.slide_encoders.files import ModelFiles, SlideWeightsNotFound


def remote_class(facts: SlideEncoderFacts, files: ModelFiles, reference: str) -> Any:
    """The class `reference` ("module.Class") of the repository's code."""
    try:
        from transformers.dynamic_module_utils import get_class_from_dynamic_module
    except ModuleNotFoundError as exc:
        raise MissingPackage(
            f"slide encoder {facts.name!r} loads its code with transformers, which is not "
            "installed: pip install transformers"
        ) from exc
    try:
        return get_class_from_dynamic_module(reference, files.code_location)
    except ModuleNotFoundError as exc:
        raise MissingPackage(
            f"the code of {facts.repo} ({facts.name}) needs the {exc.name} package: "
            f"pip install {exc.name}"
        ) from exc
    except OSError as exc:  # the code file is neither there nor downloadable
        raise SlideWeightsNotFound(
            f"the code of slide encoder {facts.name!r} ({reference} from {facts.repo}) is not "
            f"at {files.code_location}: {str(exc).splitlines()[0]}. Copy the whole repository "
            f"(`hf download {facts.repo} --local-dir DIR/{facts.name}`), code included, and "
            f"use --weights-dir DIR."
        ) from exc


def load_safetensors(files: ModelFiles) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(files["model.safetensors"]))


def model_dtype(device: torch.device) -> torch.dtype:
    """float16 on a GPU, as the reference runs these models; float32 on the CPU."""
    return torch.float16 if device.type == "cuda" else torch.float32


def autocast(device: torch.device, dtype: torch.dtype) -> AbstractContextManager[Any]:
    if device.type != "cuda" or dtype == torch.float32:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
