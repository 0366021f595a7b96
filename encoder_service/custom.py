"""The plugin API: bring your own encoder without touching AtlasPatch.

A plugin file defines `register_feature_extractors(registry, device, dtype, num_workers)` and
calls `register_custom_encoder` in it with a loader that returns `CustomEncoderComponents`.
A plugin written for AtlasPatch works unchanged: its `atlas_patch.models.patch.custom` import
resolves here while it loads (reference_imports.py).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from atlaspatch.api.encoder_facts import EncoderFacts
from atlaspatch.encoder_service.networks.encoder import module_bytes


@dataclass
class CustomEncoderComponents:
    model: torch.nn.Module
    preprocess: Callable[[Image.Image], torch.Tensor]  # one PIL patch -> (C, H, W) tensor
    # (B, C, H, W) -> (B, embedding_dim); None: the model itself
    forward_fn: Callable[[torch.Tensor], torch.Tensor] | None = None


Loader = Callable[[torch.device, torch.dtype], CustomEncoderComponents]


@dataclass(frozen=True)
class CustomEncoderEntry:
    name: str
    embedding_dim: int
    loader: Loader
    num_workers: int = 1
    source: str = "plugin"


def register_custom_encoder(
    registry: Any,
    name: str,
    embedding_dim: int,
    loader: Loader,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    num_workers: int = 1,
    non_blocking: bool = False,
) -> None:
    """Add `name` to `registry`; `device` and `dtype` are the ones the registry was given and
    are passed to `loader` when the encoder is first used. `non_blocking` is accepted for
    AtlasPatch's plugins; transfers here are always non-blocking where they can be."""
    registry.register_custom(
        CustomEncoderEntry(name, int(embedding_dim), loader, max(1, num_workers))
    )


def custom_facts(entry: CustomEncoderEntry, precision: str) -> EncoderFacts:
    """What a plugin's encoder says of itself, known before its loader runs."""
    return EncoderFacts(
        encoder=entry.name,
        embedding_dim=entry.embedding_dim,
        precision=precision,
        weights_source=entry.source,
        preprocessing="the plugin's own preprocess",
    )


class CustomEncoder:
    def __init__(self, entry: CustomEncoderEntry, device: str, precision: str, dtype: torch.dtype):
        self.name = entry.name
        self.embedding_dim = entry.embedding_dim
        self.device = torch.device(device)
        self.dtype = dtype
        self.precision = precision
        self._components = entry.loader(self.device, dtype)
        self._pool = ThreadPoolExecutor(entry.num_workers, thread_name_prefix=f"{entry.name}-pre")
        self._entry = entry

    @torch.inference_mode()
    def embed(self, patches: torch.Tensor) -> torch.Tensor:
        images = [Image.fromarray(patch) for patch in patches.numpy()]
        tensors = list(self._pool.map(self._components.preprocess, images))
        batch = torch.stack(tensors).to(device=self.device, dtype=self.dtype)
        forward = self._components.forward_fn or self._components.model
        output = forward(batch)
        if output.ndim != 2 or output.shape != (len(images), self.embedding_dim):
            raise ValueError(
                f"plugin encoder {self.name} returned shape {tuple(output.shape)}, "
                f"expected ({len(images)}, {self.embedding_dim})"
            )
        return output.float().cpu()

    def warm_up(self, batch_size: int) -> None:
        pass  # the plugin's own business

    def input_size(self) -> None:
        return None  # the plugin's preprocess decides

    def memory_bytes(self) -> int:
        return module_bytes(self._components.model)

    def describe(self) -> EncoderFacts:
        return custom_facts(self._entry, self.precision)
