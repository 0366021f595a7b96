"""Model files from the Hugging Face hub: the local cache first, a download only if allowed.

Shared by the segmenter (SAM2 checkpoint) and the encoders (their weights).
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")


def cache_dir() -> str | None:
    # Read now, not when huggingface_hub was imported, so the caller's environment counts.
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return str(Path(os.environ["HF_HOME"]) / "hub")
    return None


def find_in_cache(repo: str, filenames: tuple[str, ...]) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    for filename in filenames:
        found = try_to_load_from_cache(repo, filename, cache_dir=cache_dir())
        if isinstance(found, str):
            return Path(found)
    return None


# Whether the hub answers, by endpoint ("" where it does, else why not): asked once per
# process, so that a machine without it says so at once instead of retrying every file.
_hub_reachable: dict[str, str] = {}
_hub_lock = threading.Lock()


def unreachable_hub() -> str:
    """Why the hub cannot be reached from here ("" where it can)."""
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    endpoint = os.environ.get("HF_ENDPOINT") or constants.ENDPOINT
    with _hub_lock:
        if endpoint not in _hub_reachable:
            try:
                get_session().head(endpoint, timeout=5)  # any answer will do
                _hub_reachable[endpoint] = ""
            except Exception as exc:  # no route, no name, no proxy: all "not reachable"
                _hub_reachable[endpoint] = (
                    f"the hub ({endpoint}) does not answer from here: {type(exc).__name__}; "
                    "set HF_HUB_OFFLINE=1 on machines without it"
                )
        return _hub_reachable[endpoint]


def download(repo: str, filenames: tuple[str, ...]) -> tuple[Path | None, str]:
    """The first of `filenames` the hub gives, or None and why not."""
    if offline():
        return None, "HF_HUB_OFFLINE is set"
    unreachable = unreachable_hub()
    if unreachable:
        return None, unreachable
    from huggingface_hub import hf_hub_download

    why = ""
    for filename in filenames:
        try:
            path = hf_hub_download(
                repo, filename, cache_dir=cache_dir(), token=os.environ.get("HF_TOKEN")
            )
            return Path(path), ""
        except Exception as exc:  # unreachable hub, gated repo, missing file: all "not here"
            why = f"download failed: {type(exc).__name__}"
    return None, why


# Digests already taken, by (file, size, modification time): a model's weights are hashed
# once per process, although what it computes is asked before it is loaded and again after.
_digests: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    status = path.stat()
    key = (str(Path(path).resolve()), status.st_size, status.st_mtime_ns)
    if key not in _digests:
        _digests[key] = _digest(path)
    return _digests[key]


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
