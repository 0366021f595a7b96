"""Networks built with transformers or open_clip from a published configuration, kept in the
registry entry, so that no configuration is fetched from the hub: only the weights are.

Each network is wrapped so that calling it on a normalised (B, 3, H, W) batch gives what the
encoder stores: the image features the model's own API returns (CLS token, pooled output,
projected image embedding), or the token sequence when the entry pools tokens itself.
"""

from __future__ import annotations

import torch

from atlaspatch.encoder_service.catalog.spec import (
    EncoderSpec,
    OpenClipParams,
    TransformersParams,
)

TRANSFORMERS_OUTPUTS = ("cls", "pooler", "image_embeds", "tokens")


class TransformersFeatures(torch.nn.Module):
    def __init__(self, model: torch.nn.Module, output: str):
        super().__init__()
        if output not in TRANSFORMERS_OUTPUTS:
            raise ValueError(f"unknown output {output!r}")
        self.model = model
        self.output = output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = self.model(pixel_values=x)
        if self.output == "cls":
            return result.last_hidden_state[:, 0]
        if self.output == "pooler":
            return result.pooler_output
        if self.output == "image_embeds":
            return result.image_embeds
        return result.last_hidden_state


class OpenClipImageFeatures(torch.nn.Module):
    """open_clip's image tower, as `encode_image` gives it: CLIP's unnormalised, CoCa's
    normalised (its default, which the reference keeps)."""

    def __init__(self, visual: torch.nn.Module, normalize: bool):
        super().__init__()
        self.visual = visual
        self.normalize = normalize

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.visual(x)
        # CoCa's tower also returns its tokens, for the text decoder.
        features = features[0] if isinstance(features, tuple) else features
        return torch.nn.functional.normalize(features, dim=-1) if self.normalize else features


def build_transformers(spec: EncoderSpec) -> TransformersFeatures:
    """The network of the entry's TransformersParams, from its published configuration."""
    import transformers

    params = spec.params
    assert isinstance(params, TransformersParams)
    config = getattr(transformers, params.config_class)(**params.config)
    config._attn_implementation = "sdpa"
    model_class = getattr(transformers, params.model_class)
    model = model_class(config, **params.model_args)
    return TransformersFeatures(model.eval(), params.output)


def build_open_clip(spec: EncoderSpec) -> OpenClipImageFeatures:
    """The image tower of the entry's OpenClipParams: a configuration open_clip ships, or
    the tower's own (embed_dim and vision_cfg as in open_clip's model configs)."""
    import open_clip
    from open_clip.model import CLIPVisionCfg, _build_vision_tower

    params = spec.params
    assert isinstance(params, OpenClipParams)
    if params.model:
        shipped = open_clip.get_model_config(params.model)
        embed_dim, vision_cfg = shipped["embed_dim"], dict(shipped["vision_cfg"])
    else:
        embed_dim, vision_cfg = params.embed_dim, dict(params.vision_cfg)
    visual = _build_vision_tower(embed_dim, CLIPVisionCfg(**vision_cfg))
    return OpenClipImageFeatures(visual.eval(), params.normalize)


def inner_module(network: torch.nn.Module) -> torch.nn.Module:
    """The module whose keys the published checkpoint uses."""
    if isinstance(network, TransformersFeatures):
        return network.model
    if isinstance(network, OpenClipImageFeatures):
        return network.visual
    return network


def checkpoint_prefixes(network: torch.nn.Module) -> tuple[str, ...]:
    """Prefixes the published checkpoint puts before the inner module's own keys: open_clip
    saves the image tower under visual., training checkpoints under module.visual.; the
    transformers checkpoints use the model's own keys."""
    if isinstance(network, OpenClipImageFeatures):
        return ("module.visual.", "visual.")
    return ()
