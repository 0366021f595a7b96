"""Where a tissue model's checkpoint comes from: a path, an environment variable, the Hugging
Face cache or the hub, in that order."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from atlaspatch.api.errors import NotFound
from atlaspatch.api.hosting import model_files


@dataclass(frozen=True)
class CheckpointSource:
    model: str  # as messages name it
    option: str
    env: str
    repo_id: str
    filename: str
    by_hand: str  # where a person downloads it
    instead: str = "or use --tissue-model otsu, which needs no weights."


SAM2 = CheckpointSource(
    "SAM2 tissue",
    "--sam2-checkpoint",
    "ATLASPATCH_SAM2_CHECKPOINT",
    "AtlasAnalyticsLab/AtlasPatch",
    "model.pth",
    "https://huggingface.co/AtlasAnalyticsLab/AtlasPatch",
)
# GrandQC's weights are CC BY-NC-SA 4.0: published on Zenodo, mirrored by TRIDENT's authors.
GRANDQC_TISSUE = CheckpointSource(
    "GrandQC tissue",
    "--grandqc-checkpoint",
    "ATLASPATCH_GRANDQC_CHECKPOINT",
    "MahmoodLab/hest-tissue-seg",
    "Tissue_Detection_MPP10.pth",
    "https://zenodo.org/records/14507273",
)


GRANDQC_ARTIFACTS = CheckpointSource(
    "GrandQC artifact",
    "--artifact-checkpoint",
    "ATLASPATCH_GRANDQC_ARTIFACT_CHECKPOINT",
    "MahmoodLab/hest-tissue-seg",
    "GrandQC_MPP1_state_dict.pth",
    "https://huggingface.co/MahmoodLab/hest-tissue-seg",
    "or leave out --artifact-model: the quality scores need no weights.",
)


class CheckpointNotFound(NotFound):
    pass


def resolve_sam2_checkpoint(explicit: Path | None = None) -> Path:
    return resolve_checkpoint(SAM2, explicit)


def resolve_checkpoint(source: CheckpointSource, explicit: Path | None = None) -> Path:
    looked: list[str] = []
    if explicit is not None:
        if explicit.is_file():
            return explicit
        raise CheckpointNotFound(f"{source.option} {explicit} is not a file")
    from_env = os.environ.get(source.env)
    if from_env:
        if Path(from_env).is_file():
            return Path(from_env)
        looked.append(f"${source.env}={from_env} (not a file)")
    else:
        looked.append(f"${source.env} (unset)")

    cached = model_files.find_in_cache(source.repo_id, (source.filename,))
    if cached is not None:
        return cached
    looked.append(f"Hugging Face cache ({source.repo_id}/{source.filename})")

    downloaded, why = model_files.download(source.repo_id, (source.filename,))
    if downloaded is not None:
        return downloaded
    looked.append(f"Hugging Face hub ({why})")
    raise CheckpointNotFound(
        f"no {source.model} checkpoint found; looked at: "
        + "; ".join(looked)
        + f". Download {source.filename} from {source.by_hand} and pass "
        f"{source.option} PATH (or set {source.env}), {source.instead}"
    )
