"""Building a slide or patient encoder by its facts: the package it needs first, then its
files (weights, and code for hub-code models), then the model on its device, with the
digest of its weights files (what the embeddings' provenance names)."""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atlaspatch.api.hosting.devices import resolve_device
from atlaspatch.api.hosting.model_files import file_sha256
from atlaspatch.encoder_service.slide_encoders.base import MissingPackage, PatientModel, SlideModel
from atlaspatch.encoder_service.slide_encoders.catalog import MEAN, SlideEncoderFacts
from atlaspatch.encoder_service.slide_encoders.files import ModelFiles, locate_files


@dataclass(frozen=True)
class LoadedSlideModel:
    model: SlideModel | PatientModel
    weights_sha256: str  # of its files together, in the catalogue's order; "": none


def load_slide_model(
    facts: SlideEncoderFacts,
    device: str = "cpu",
    weights_dir: Path | None = None,
    allow_download: bool = True,
) -> LoadedSlideModel:
    """The model of `facts` (its patch encoder filled in) ready to encode on `device` (cuda
    falls back to the CPU). Raises NotFound when its package or files are not here."""
    if facts.name == MEAN:
        from atlaspatch.encoder_service.slide_encoders.mean_pool import MeanPool

        return LoadedSlideModel(MeanPool(facts), "")
    if facts.python_package and importlib.util.find_spec(facts.python_package) is None:
        raise MissingPackage(
            f"slide encoder {facts.name!r} needs the {facts.python_package} package, which is "
            f"not installed: {_install_hint(facts)}"
        )
    files = locate_files(facts, weights_dir, allow_download)
    model = _BUILDERS[facts.name](facts, files, resolve_device(device))
    return LoadedSlideModel(model, _files_sha256(files))


def _files_sha256(files: ModelFiles) -> str:
    if len(files.files) == 1:
        return file_sha256(next(iter(files.files.values())))
    digest = hashlib.sha256()
    for name, path in files.files.items():
        digest.update(f"{name}:{file_sha256(path)}\n".encode())
    return digest.hexdigest()


def _moozy(facts: SlideEncoderFacts, files: ModelFiles, device: str) -> Any:
    from atlaspatch.encoder_service.slide_encoders.moozy import Moozy

    return Moozy(facts, files[facts.files[0]], device)


def _titan(facts: SlideEncoderFacts, files: ModelFiles, device: str) -> Any:
    from atlaspatch.encoder_service.slide_encoders.titan import Titan

    return Titan(facts, files, device)


def _prism(facts: SlideEncoderFacts, files: ModelFiles, device: str) -> Any:
    from atlaspatch.encoder_service.slide_encoders.prism import Prism

    return Prism(facts, files, device)


def _install_hint(facts: SlideEncoderFacts) -> str:
    if facts.python_package == "moozy":
        from atlaspatch.encoder_service.slide_encoders.moozy import PACKAGE_HINT

        return PACKAGE_HINT
    return f"pip install {facts.python_package}"


_BUILDERS: dict[str, Callable[[SlideEncoderFacts, ModelFiles, str], Any]] = {
    "moozy": _moozy,
    "titan": _titan,
    "prism": _prism,
}
