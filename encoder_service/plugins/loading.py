"""Loading `--feature-plugin` files: each must define `register_feature_extractors`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from atlaspatch.api.errors import Refused
from atlaspatch.encoder_service.networks.precision import torch_dtype
from atlaspatch.encoder_service.plugins.reference_imports import reference_plugin_imports
from atlaspatch.encoder_service.registry import EncoderRegistry


class PluginError(Refused):
    pass


def registry_with_plugins(
    plugins: tuple[Path, ...] | list[Path], device: str, precision: str, num_workers: int
) -> EncoderRegistry:
    """The built-in encoders and those the plugin files register."""
    registry = EncoderRegistry()
    for plugin in plugins:
        try:
            load_plugin(plugin, registry, device, torch_dtype(precision), num_workers)
        except ValueError as exc:  # e.g. a name registered twice
            raise PluginError(f"{plugin}: {exc}") from exc
    return registry


def load_plugin(
    path: Path, registry: EncoderRegistry, device: str, dtype: torch.dtype, num_workers: int
) -> list[str]:
    """Run the plugin's hook; return the names it registered."""
    before = set(registry.names())
    module_name = f"atlaspatch_plugin_{path.stem}_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    with reference_plugin_imports():  # a plugin written for AtlasPatch loads unchanged
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise PluginError(f"{path}: failed to import: {type(exc).__name__}: {exc}") from exc
        hook = getattr(module, "register_feature_extractors", None)
        if hook is None:
            raise PluginError(
                f"{path}: defines no "
                "register_feature_extractors(registry, device, dtype, num_workers)"
            )
        hook(registry, torch.device(device), dtype, num_workers)
    added = [name for name in registry.names() if name not in before]
    if not added:
        raise PluginError(f"{path}: register_feature_extractors registered no encoder")
    return added
