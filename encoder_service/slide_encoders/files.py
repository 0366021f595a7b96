"""Where a slide encoder's files come from, in the patch encoders' order: a local folder
(--weights-dir, then $ATLASPATCH_WEIGHTS_DIR), the Hugging Face cache, the hub (not with
HF_HUB_OFFLINE=1). When none has them the error names the repository and what to do."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from atlaspatch.api.errors import NotFound
from atlaspatch.api.hosting import model_files
from atlaspatch.encoder_service.slide_encoders.catalog import SlideEncoderFacts

WEIGHTS_DIR_ENV = "ATLASPATCH_WEIGHTS_DIR"


class SlideWeightsNotFound(NotFound):
    pass


@dataclass(frozen=True)
class ModelFiles:
    """The files a model needs, by name, and where the code of a hub repository is: the
    local folder holding them, or the repository id (its files are in the HF cache)."""

    files: dict[str, Path]
    code_location: str
    origin: str  # "local", "hf-cache" or "hub"

    def __getitem__(self, name: str) -> Path:
        return self.files[name]


def locate_files(
    facts: SlideEncoderFacts, weights_dir: Path | None = None, allow_download: bool = True
) -> ModelFiles:
    looked = []
    for folder in _local_folders(weights_dir):
        local = _in_folder(folder, facts)
        if local is not None:
            return local
        looked.append(_folder_hint(folder, facts))
    cached = {name: model_files.find_in_cache(facts.repo, (name,)) for name in facts.files}
    if all(cached.values()):
        return ModelFiles({k: v for k, v in cached.items() if v}, facts.repo, "hf-cache")
    missing = [name for name, path in cached.items() if path is None]
    looked.append(f"the Hugging Face cache ({facts.repo}: no {', '.join(missing)})")
    found: dict[str, Path] = {}
    for name in facts.files:
        path = cached[name]
        if path is None and not allow_download:
            looked.append("not the Hugging Face hub (this service downloads nothing for clients)")
            raise SlideWeightsNotFound(_not_found(facts, looked))
        if path is None:
            path, why = model_files.download(facts.repo, (name,))
            if path is None:
                looked.append(f"the Hugging Face hub ({why})")
                raise SlideWeightsNotFound(_not_found(facts, looked))
        found[name] = path
    return ModelFiles(found, facts.repo, "hub")


def _local_folders(weights_dir: Path | None) -> list[Path]:
    folders = [weights_dir] if weights_dir is not None else []
    if os.environ.get(WEIGHTS_DIR_ENV):
        folders.append(Path(os.environ[WEIGHTS_DIR_ENV]))
    return folders


def _in_folder(folder: Path, facts: SlideEncoderFacts) -> ModelFiles | None:
    """`<folder>/<name>/` holding every file, or, for a one-file model, `<folder>/<file>`
    or `<folder>/<name><suffix of the file>` (e.g. moozy.pt)."""
    subfolder = folder / facts.name
    if all((subfolder / name).is_file() for name in facts.files):
        return ModelFiles({n: subfolder / n for n in facts.files}, str(subfolder), "local")
    if len(facts.files) == 1:
        (only,) = facts.files
        for candidate in (folder / only, folder / f"{facts.name}{Path(only).suffix}"):
            if candidate.is_file():
                return ModelFiles({only: candidate}, str(folder), "local")
    return None


def _folder_hint(folder: Path, facts: SlideEncoderFacts) -> str:
    if len(facts.files) == 1:
        return f"{folder}/{facts.files[0]} and {folder}/{facts.name}/{facts.files[0]}"
    return f"{folder}/{facts.name}/ ({', '.join(facts.files)})"


def _not_found(facts: SlideEncoderFacts, looked: list[str]) -> str:
    access = (
        f"request access on https://huggingface.co/{facts.repo}, set HF_TOKEN, and "
        if facts.gated
        else ""
    )
    return (
        f"no weights for slide encoder {facts.name!r} ({facts.repo}); looked at: "
        f"{'; '.join(looked)}. To get them: {access}run once with hub access (they go to "
        f"the Hugging Face cache), or copy the repository's files into "
        f"--weights-dir/{facts.name}/ (`hf download {facts.repo} --local-dir "
        f"DIR/{facts.name}`)."
    )
