"""Encoders whose network only their authors' code builds, code no package index carries
(CONCH, MUSK) or that lives beside gated weights on the hub (CONCH v1.5). Where that code is
installed, it builds the network as the reference does; where not, the error says what to
install. Nothing here is run by the tests beyond that error: the code is not installable here."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from atlaspatch.api.errors import NotFound
from atlaspatch.encoder_service.catalog.spec import EncoderSpec


class MissingPackage(NotFound):
    pass


class CallFeatures(torch.nn.Module):
    """A network whose features come from a call other than forward."""

    def __init__(self, model: torch.nn.Module, features: Callable[..., torch.Tensor]):
        super().__init__()
        self.model = model
        self._features = features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._features(self.model, x)


# The module each needs before anything is fetched for it.
REQUIRED_MODULES = {"conch_v1": "conch", "conch_v15": "einops_exts", "musk": "musk"}


def installed(spec: EncoderSpec) -> bool:
    module = REQUIRED_MODULES.get(spec.name)
    return module is not None and importlib.util.find_spec(module) is not None


def check_installed(spec: EncoderSpec) -> None:
    if not installed(spec):
        raise MissingPackage(missing_message(spec))


def build_external(spec: EncoderSpec, weights: Path | None) -> torch.nn.Module:
    builders = {"conch_v1": _conch_v1, "conch_v15": _conch_v15, "musk": _musk}
    if weights is None or spec.name not in builders:
        raise MissingPackage(missing_message(spec))
    return builders[spec.name](spec, weights)


def missing_message(spec: EncoderSpec) -> str:
    return f"encoder {spec.name!r} is built by code this project cannot install: {spec.needs}"


def _imported(spec: EncoderSpec, module: str):
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        raise MissingPackage(missing_message(spec)) from error


def _conch_v1(spec: EncoderSpec, weights: Path) -> torch.nn.Module:
    custom = _imported(spec, "conch.open_clip_custom")
    model, _ = custom.create_model_from_pretrained("conch_ViT-B-16", checkpoint_path=str(weights))
    return CallFeatures(model, lambda m, x: m.encode_image(x, proj_contrast=False, normalize=False))


def _conch_v15(spec: EncoderSpec, weights: Path) -> torch.nn.Module:
    # The builder lives in TITAN's repository, beside its configuration: both are needed.
    folder = weights.parent
    configuration = _module_from_file(folder / "configuration_titan.py", spec)
    conch = _module_from_file(folder / "conch_v1_5.py", spec)
    model, _ = conch.build_conch(configuration.ConchConfig())
    return CallFeatures(model, lambda m, x: m(x))


def _musk(spec: EncoderSpec, weights: Path) -> torch.nn.Module:
    utils = _imported(spec, "musk.utils")
    _imported(spec, "musk.modeling")  # registers musk_large_patch16_384 with timm
    import timm

    model = timm.create_model("musk_large_patch16_384")
    utils.load_model_and_may_interpolate(str(weights), model, "model|module", "")
    return CallFeatures(
        model,
        lambda m, x: m(image=x, with_head=False, out_norm=False, ms_aug=True, return_global=True)[
            0
        ],
    )


def _module_from_file(path: Path, spec: EncoderSpec):
    if not path.is_file():
        raise MissingPackage(f"{missing_message(spec)} ({path.name} is not beside the weights)")
    name = f"atlaspatch_external_{spec.name}_{path.stem}"
    loader = importlib.util.spec_from_file_location(name, path)
    if loader is None or loader.loader is None:
        raise MissingPackage(missing_message(spec))
    module = importlib.util.module_from_spec(loader)
    sys.modules[name] = module
    loader.loader.exec_module(module)
    return module
