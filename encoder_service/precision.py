"""The precisions an encoder runs at, and the default for a device: decided here only."""

from __future__ import annotations

import torch

from atlaspatch_api.errors import InvalidInput

PRECISIONS = ("float32", "float16", "bfloat16")
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def default_precision(device: str) -> str:
    # Half precision is what GPUs are fast at; on a CPU it is slower than float32.
    return "float16" if device.startswith("cuda") else "float32"


def checked_precision(precision: str) -> str:
    if precision not in DTYPES:
        raise InvalidInput(f"precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    return precision
