"""A timm hub repository's own preprocessing: the pretrained_cfg of the config.json that lies
beside its weights (in the Hugging Face cache or a --weights-dir folder)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from atlaspatch.api.hosting import model_files
from atlaspatch.encoder_service.catalog.spec import EncoderSpec, HubWeights

CONFIG = "config.json"


def fetch_hub_config(spec: EncoderSpec) -> None:
    """Put the repository's config.json beside its weights in the cache (the weights alone
    were all a download fetched before); where the hub cannot be reached, the registry's
    values stand, which are the published ones."""
    if not isinstance(spec.weights, HubWeights):
        return
    if model_files.find_in_cache(spec.weights.repo, (CONFIG,)) is None:
        model_files.download(spec.weights.repo, (CONFIG,))


def with_hub_preprocessing(spec: EncoderSpec, weights: Path) -> EncoderSpec:
    """`spec` with the mean, std, interpolation, crop and input size its repository's
    config.json states; unchanged where there is none or it says nothing usable."""
    config_path = weights.parent / CONFIG
    try:
        published = json.loads(config_path.read_text())["pretrained_cfg"]
    except (OSError, ValueError, KeyError, TypeError):
        return spec
    changes: dict = {}
    for field in ("mean", "std"):
        value = published.get(field)
        if isinstance(value, list) and len(value) == 3:
            changes[field] = tuple(float(v) for v in value)
    if published.get("interpolation") in ("bilinear", "bicubic"):
        changes["interpolation"] = published["interpolation"]
    crop_pct = published.get("crop_pct")
    if isinstance(crop_pct, int | float) and 0.5 <= crop_pct <= 1.0:
        changes["crop_pct"] = float(crop_pct)
    size = published.get("input_size")
    if isinstance(size, list) and len(size) == 3 and isinstance(size[-1], int):
        changes["input_size"] = size[-1]
    return dataclasses.replace(spec, **changes)
