"""How many parameters a weights file holds, read from its header or its index, not its data:
what an encoder will cost is known before it is loaded."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")
FLOAT32_BYTES = 4


def parameter_count(path: Path) -> int:
    """The numbers in a weights file, or in every weights file of a folder."""
    if path.is_dir():
        files = [f for f in sorted(path.rglob("*")) if f.suffix in WEIGHT_SUFFIXES]
        return sum(_file_count(f) for f in files if f.is_file())
    return _file_count(path)


def _file_count(path: Path) -> int:
    if path.suffix == ".safetensors":
        return _safetensors_count(path)
    return _torch_count(path)


def _safetensors_count(path: Path) -> int:
    with path.open("rb") as file:
        (length,) = struct.unpack("<Q", file.read(8))
        header = json.loads(file.read(length))
    return sum(
        math.prod(tensor["shape"]) for name, tensor in header.items() if name != "__metadata__"
    )


def _torch_count(path: Path) -> int:
    """Mapped, not read: only the archive's index is touched. A file torch cannot map (the
    legacy format) is counted by its size as float32."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except Exception:
        return path.stat().st_size // FLOAT32_BYTES
    return _tensors_in(state)


def _tensors_in(value: object) -> int:
    import torch

    if isinstance(value, torch.Tensor):
        return value.numel()
    if isinstance(value, dict):
        return sum(_tensors_in(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_tensors_in(item) for item in value)
    return 0
