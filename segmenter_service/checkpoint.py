"""Where the SAM2 tissue checkpoint comes from: a path, an environment variable, the HF cache
or the hub, in that order."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

HF_REPO_ID = "AtlasAnalyticsLab/AtlasPatch"
HF_FILENAME = "model.pth"
CHECKPOINT_ENV = "ATLASPATCH_SAM2_CHECKPOINT"


class CheckpointNotFound(Exception):
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

    cached = _from_hf_cache()
    if cached is not None:
        return cached
    looked.append(f"Hugging Face cache ({HF_REPO_ID}/{HF_FILENAME})")

    downloaded, why = _from_hf_hub()
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


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _from_hf_cache() -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    # Read the cache location now, not when huggingface_hub was imported.
    cache_dir = os.environ.get("HF_HUB_CACHE")
    if cache_dir is None and os.environ.get("HF_HOME"):
        cache_dir = str(Path(os.environ["HF_HOME"]) / "hub")
    found = try_to_load_from_cache(HF_REPO_ID, HF_FILENAME, cache_dir=cache_dir)
    return Path(found) if isinstance(found, str) else None


def _from_hf_hub() -> tuple[Path | None, str]:
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return None, "HF_HUB_OFFLINE is set"
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(HF_REPO_ID, HF_FILENAME)), ""
    except Exception as exc:  # no network, gated repo, missing file: all mean "not here"
        return None, f"download failed: {type(exc).__name__}"
