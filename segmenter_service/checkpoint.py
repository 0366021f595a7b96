"""Where the SAM2 tissue checkpoint comes from: a path, an environment variable, the HF cache
or the hub, in that order."""

from __future__ import annotations

import os
from pathlib import Path

from atlaspatch.api.errors import NotFound
from atlaspatch.api.hosting import model_files

HF_REPO_ID = "AtlasAnalyticsLab/AtlasPatch"
HF_FILENAME = "model.pth"
CHECKPOINT_ENV = "ATLASPATCH_SAM2_CHECKPOINT"


class CheckpointNotFound(NotFound):
    pass


def resolve_sam2_checkpoint(explicit: Path | None = None) -> Path:
    looked: list[str] = []
    if explicit is not None:
        if explicit.is_file():
            return explicit
        raise CheckpointNotFound(f"--sam2-checkpoint {explicit} is not a file")
    from_env = os.environ.get(CHECKPOINT_ENV)
    if from_env:
        if Path(from_env).is_file():
            return Path(from_env)
        looked.append(f"${CHECKPOINT_ENV}={from_env} (not a file)")
    else:
        looked.append(f"${CHECKPOINT_ENV} (unset)")

    cached = model_files.find_in_cache(HF_REPO_ID, (HF_FILENAME,))
    if cached is not None:
        return cached
    looked.append(f"Hugging Face cache ({HF_REPO_ID}/{HF_FILENAME})")

    downloaded, why = model_files.download(HF_REPO_ID, (HF_FILENAME,))
    if downloaded is not None:
        return downloaded
    looked.append(f"Hugging Face hub ({why})")
    raise CheckpointNotFound(
        "no SAM2 tissue checkpoint found; looked at: "
        + "; ".join(looked)
        + f". Download {HF_FILENAME} from https://huggingface.co/{HF_REPO_ID} and pass "
        f"--sam2-checkpoint PATH (or set {CHECKPOINT_ENV}), or use --tissue-model otsu, "
        "which needs no weights."
    )
