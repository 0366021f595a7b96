"""Turning `--feature-*` options into loaded encoders, with clear errors."""

from __future__ import annotations

from pathlib import Path

import click

from encoder_service.encoder import DTYPES, Encoder
from encoder_service.plugins import PluginError, load_plugin
from encoder_service.registry import EncoderRegistry, UnknownEncoder
from encoder_service.weights import WeightsNotFound


def default_precision(device: str) -> str:
    # Half precision is what GPUs are fast at; on a CPU it is slower than float32.
    return "float16" if device.startswith("cuda") else "float32"


def build_registry(
    plugins: tuple[Path, ...], device: str, precision: str, num_workers: int
) -> EncoderRegistry:
    registry = EncoderRegistry()
    for plugin in plugins:
        try:
            load_plugin(plugin, registry, device, DTYPES[precision], num_workers)
        except (PluginError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
    return registry


def load_encoders(
    registry: EncoderRegistry,
    names: list[str],
    device: str,
    precision: str,
    weights_dir: Path | None,
) -> list[Encoder]:
    if not names:
        raise click.ClickException("--feature-extractors names no encoder")
    encoders = []
    for name in names:
        try:
            encoders.append(registry.create(name, device, precision, weights_dir))
        except (UnknownEncoder, WeightsNotFound, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
    return encoders
