"""Reading a published checkpoint into a network built here: its keys matched to the
network's, every tensor the network needs present and of the right shape."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import torch

WRAPPERS = ("state_dict", "model", "module", "teacher")


def read_state(path: Path) -> dict[str, torch.Tensor]:
    """Tensors by name from a .safetensors file or a torch file (a state dict, perhaps inside
    a training checkpoint's "state_dict"/"model" entry); never unpickles code."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    while isinstance(state, Mapping):
        inner = next((state[k] for k in WRAPPERS if isinstance(state.get(k), Mapping)), None)
        if inner is None:
            break
        state = inner
    if not isinstance(state, Mapping):
        raise ValueError(f"{path}: not a state dict")
    return {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}


def load_published(
    module: torch.nn.Module,
    path: Path,
    prefixes: tuple[str, ...] = (),
    rename: Callable[[str], str | None] = lambda key: key,
) -> None:
    """Load `path` into `module`. Each checkpoint key loses the first of `prefixes` it starts
    with, then goes through `rename` (None drops it); keys the module lacks (text towers,
    classifier heads) are left out. A tensor the module needs and the file lacks is an error."""
    target = module.state_dict()
    state = read_state(path)
    # A whole model's checkpoint (a CLIP with its text tower) names the wanted part by its
    # prefix; its other keys may repeat the part's own names (both towers have a
    # `positional_embedding`), so they are left out. A checkpoint of the part alone has none.
    prefixed = {key for key in state if any(key.startswith(p) for p in prefixes)}
    matched: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if prefixed and key not in prefixed:
            continue
        stripped = next((key[len(p) :] for p in prefixes if key.startswith(p)), key)
        name = rename(stripped)
        if name is None or name not in target:
            continue
        if target[name].shape != value.shape:
            raise ValueError(
                f"{path}: {key} is {tuple(value.shape)}, the network's {name} is "
                f"{tuple(target[name].shape)}: not this model's checkpoint"
            )
        matched[name] = value
    missing = [key for key in target if key not in matched]
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise ValueError(f"{path}: no tensor for {shown}: not this model's checkpoint")
    module.load_state_dict(matched, strict=True)
