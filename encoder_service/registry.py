"""The registry of named encoders: built-in entries plus those plugins add."""

from __future__ import annotations

import difflib
from pathlib import Path

from atlaspatch.api.encoder_facts import EncoderFacts
from atlaspatch.api.errors import InvalidInput, NotFound, shown
from atlaspatch.encoder_service.catalog import builtin_specs
from atlaspatch.encoder_service.catalog.hub_preprocessing import (
    fetch_hub_config,
    with_hub_preprocessing,
)
from atlaspatch.encoder_service.catalog.spec import EncoderSpec
from atlaspatch.encoder_service.custom import CustomEncoder, CustomEncoderEntry, custom_facts
from atlaspatch.encoder_service.networks.encoder import Encoder, NetworkEncoder, network_facts
from atlaspatch.encoder_service.networks.external import check_installed
from atlaspatch.encoder_service.networks.precision import (
    PRECISION_BYTES,
    checked_precision,
    default_precision,
    torch_dtype,
)
from atlaspatch.encoder_service.networks.weights import resolve_weights
from atlaspatch.encoder_service.networks.weights_size import parameter_count


class UnknownEncoder(NotFound):
    pass


class EncoderRegistry:
    batches_itself = False  # the encoder service merges requests for these

    def __init__(self, specs: list[EncoderSpec] | None = None):
        self._specs = {spec.name: spec for spec in (builtin_specs() if specs is None else specs)}
        self._custom: dict[str, CustomEncoderEntry] = {}

    def default_precision(self, device: str) -> str:
        return default_precision(device)

    def names(self) -> list[str]:
        return [*self._specs, *self._custom]

    def spec(self, name: str) -> EncoderSpec | None:
        return self._specs.get(name)

    def custom(self, name: str) -> CustomEncoderEntry | None:
        return self._custom.get(name)

    def register_custom(self, entry: CustomEncoderEntry) -> None:
        if entry.name in self._specs or entry.name in self._custom:
            raise InvalidInput(f"an encoder named {entry.name!r} is already registered")
        self._custom[entry.name] = entry

    def embedding_dim(self, name: str) -> int:
        spec, custom = self._specs.get(name), self._custom.get(name)
        if spec is not None:
            return spec.embedding_dim
        if custom is not None:
            return custom.embedding_dim
        raise self._unknown(name)

    def estimated_bytes(
        self,
        name: str,
        precision: str,
        weights_dir: Path | None = None,
        allow_download: bool = True,
    ) -> int | None:
        """What `create` would hold, from the weights file's parameters (None: a plugin's
        encoder, not known before it is made)."""
        spec = self._specs.get(name)
        if spec is None:
            if name in self._custom:
                return None
            raise self._unknown(name)
        weights = resolve_weights(spec, weights_dir, allow_download)
        return parameter_count(weights.path) * PRECISION_BYTES[checked_precision(precision)]

    def create(
        self,
        name: str,
        device: str = "cpu",
        precision: str = "float32",
        weights_dir: Path | None = None,
        allow_download: bool = True,
    ) -> Encoder:
        checked_precision(precision)
        custom = self._custom.get(name)
        if custom is not None:
            return CustomEncoder(custom, device, precision, torch_dtype(precision))
        spec = self._specs.get(name)
        if spec is None:
            raise self._unknown(name)
        from atlaspatch.encoder_service.networks.build import build_network

        if spec.builder == "external":
            check_installed(spec)
        weights = resolve_weights(spec, weights_dir, allow_download)
        if spec.preprocessing_from_hub:
            if allow_download and weights.origin in ("hub", "hf-cache"):
                fetch_hub_config(spec)
            spec = with_hub_preprocessing(spec, weights.path)
        network = build_network(spec, weights.path)
        return NetworkEncoder(spec, network, device, precision, weights.sha256(), weights.origin)

    def check_known(self, name: str) -> None:
        if name not in self._specs and name not in self._custom:
            raise self._unknown(name)

    def facts(
        self,
        name: str,
        device: str = "cpu",
        precision: str = "float32",
        weights_dir: Path | None = None,
        allow_download: bool = False,
    ) -> EncoderFacts:
        """What `create` would make computes, from the catalogue and the weights file alone:
        nothing is built (a rerun over finished slides decides on these). Missing weights are
        WeightsNotFound, as for `create`."""
        checked_precision(precision)
        custom = self._custom.get(name)
        if custom is not None:
            return custom_facts(custom, precision)
        spec = self._specs.get(name)
        if spec is None:
            raise self._unknown(name)
        weights = resolve_weights(spec, weights_dir, allow_download)
        if spec.preprocessing_from_hub:
            spec = with_hub_preprocessing(spec, weights.path)
        return network_facts(spec, precision, weights.sha256(), weights.origin)

    def _unknown(self, name: str) -> UnknownEncoder:
        # Matching costs the product of the lengths: a name no encoder has is not compared.
        close = difflib.get_close_matches(name, self.names(), n=3) if len(name) < 100 else []
        hint = (
            f"; did you mean {', '.join(close)}?" if close else "; `atlaspatch encoders` lists them"
        )
        return UnknownEncoder(f"unknown encoder {shown(name)}{hint}")
