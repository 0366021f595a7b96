"""Turning a `--device` string into one that exists on this machine."""

from __future__ import annotations

import logging

from atlaspatch.api.errors import InvalidInput

log = logging.getLogger(__name__)


def resolve_device(requested: str) -> str:
    """`cuda` falls back to the CPU when no GPU is present (as AtlasPatch does); an explicit
    `cuda:N` that does not exist is an error rather than a silent slowdown."""
    requested = requested.strip().lower()
    if requested == "cpu":
        return "cpu"
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        log.warning("no CUDA device here; running on the CPU")
        return "cpu"
    if requested.startswith("cuda"):
        index = int(requested.split(":", 1)[1]) if ":" in requested else 0
        if index >= torch.cuda.device_count():
            raise InvalidInput(
                f"--device {requested}: only {torch.cuda.device_count()} CUDA devices"
            )
        return requested
    raise InvalidInput(f"--device {requested!r}: use cpu, cuda or cuda:N")
