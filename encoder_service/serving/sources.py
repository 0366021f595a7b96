"""Where a handler's encoders come from: this process (the registry, with plugins) or Triton."""

from __future__ import annotations

from pathlib import Path

from atlaspatch.api.hosting.devices import resolve_device
from atlaspatch.encoder_service.networks.precision import default_precision
from atlaspatch.encoder_service.plugins.loading import registry_with_plugins
from atlaspatch.encoder_service.serving.encoder_source import EncoderSource


def encoder_source(
    plugins: tuple[Path, ...],
    device: str,
    precision: str = "",
    plugin_workers: int = 1,
    triton_url: str | None = None,
) -> tuple[EncoderSource, str]:
    """The source and the device its encoders run on: `device` as this machine has it
    (cuda falls back to the CPU), or "cpu" when Triton runs them."""
    device = "cpu" if triton_url else resolve_device(device)
    registry = registry_with_plugins(
        plugins, device, precision or default_precision(device), plugin_workers
    )
    if not triton_url:
        return registry, device
    from atlaspatch.encoder_service.triton.forward import TritonEncoders

    return TritonEncoders(triton_url, registry), device
