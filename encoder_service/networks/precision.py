"""The precisions an encoder runs at, and the default for a device: decided here only.
Importing it costs no torch (the command line lists the precisions in its help)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from atlaspatch.api.errors import InvalidInput, shown
from atlaspatch.api.names import PRECISIONS

if TYPE_CHECKING:
    import torch

PRECISION_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}


def default_precision(device: str) -> str:
    # Half precision is what GPUs are fast at; on a CPU it is slower than float32.
    return "float16" if device.startswith("cuda") else "float32"


def torch_dtype(precision: str) -> torch.dtype:
    import torch

    return getattr(torch, checked_precision(precision))


def checked_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise InvalidInput(f"precision {shown(precision)}: use one of {', '.join(PRECISIONS)}")
    return precision
