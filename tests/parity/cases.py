"""Every name of AtlasPatch 1.1.0's patch registry: how its published files are laid out for
the reference's builder, and whether it fits the test machine (2 cores, 24 GiB) in CI time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from tests.parity import published as p


@dataclass(frozen=True)
class Case:
    name: str
    lay_out: Callable[[p.Layout], Path] | None
    giant: bool = False  # beyond ViT-L: its own make target, not `make test`
    # Why the reference's builder cannot run here, where it cannot.
    unverifiable: str = ""


def _swiglu() -> dict:
    import timm

    return {"mlp_layer": timm.layers.SwiGLUPacked, "act_layer": torch.nn.SiLU}


def _timm_hub(repo: str, swiglu: bool = False, **kwargs) -> Callable[[p.Layout], Path]:
    def lay_out(layout: p.Layout) -> Path:
        return p.timm_hub_weights(layout, repo, **(_swiglu() if swiglu else {}), **kwargs)

    return lay_out


IMAGE_PROCESSOR = ("preprocessor_config.json",)
# Loaded with trust_remote_code: the repository's own modeling code.
HIBOU_FILES = (*IMAGE_PROCESSOR, "configuration_dinov2.py", "modeling_dinov2.py")
# CLIPProcessor also reads the tokenizer's files.
CLIP_PROCESSOR = ("preprocessor_config.json", "tokenizer_config.json", "vocab.json", "merges.txt")


def _transformers(
    repo: str, model_class: str = "AutoModel", needs: tuple[str, ...] = IMAGE_PROCESSOR
) -> Callable[[p.Layout], Path]:
    return lambda layout: p.transformers_weights(layout, repo, model_class, needs)


GIANT_TORCHVISION = {"vit_h_14"}
GIANT_CLIP = {"clip_rn50x64"}
DINOV2 = {"dinov2_small": "small", "dinov2_base": "base", "dinov2_large": "large",
          "dinov2_giant": "giant"}  # fmt: skip
DINOV3 = {
    "dinov3_vits16": "vits16-pretrain-lvd1689m",
    "dinov3_vits16_plus": "vits16plus-pretrain-lvd1689m",
    "dinov3_vitb16": "vitb16-pretrain-lvd1689m",
    "dinov3_vitl16": "vitl16-pretrain-lvd1689m",
    "dinov3_vitl16_sat": "vitl16-pretrain-sat493m",
    "dinov3_vith16_plus": "vith16plus-pretrain-lvd1689m",
    "dinov3_vit7b16": "vit7b16-pretrain-lvd1689m",
    "dinov3_vit7b16_sat": "vit7b16-pretrain-sat493m",
}
LUNIT = {
    "lunit_resnet50_bt": "1aurent/resnet50.lunit_bt",
    "lunit_resnet50_swav": "1aurent/resnet50.lunit_swav",
    "lunit_resnet50_mocov2": "1aurent/resnet50.lunit_mocov2",
    "lunit_vit_small_patch16_dino": "1aurent/vit_small_patch16_224.lunit_dino",
    "lunit_vit_small_patch8_dino": "1aurent/vit_small_patch8_224.lunit_dino",
}
NEEDS_AUTHORS_CODE = (
    "its builder imports {what}, which no package index carries; verify by installing it and "
    "running `make parity-giants NAMES={name}`"
)


def all_cases() -> dict[str, Case]:
    torchvision = [
        "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
        "convnext_tiny", "convnext_small", "convnext_base", "convnext_large",
        "vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14",
    ]  # fmt: skip
    clip = [
        "clip_rn50", "clip_rn101", "clip_rn50x4", "clip_rn50x16", "clip_rn50x64",
        "clip_vit_b_32", "clip_vit_b_16", "clip_vit_l_14", "clip_vit_l_14_336",
    ]  # fmt: skip
    cases = [
        *(Case(n, partial(p.torchvision_weights, name=n), n in GIANT_TORCHVISION)
          for n in torchvision),  # fmt: skip
        *(Case(n, partial(p.openai_clip_weights, name=n), n in GIANT_CLIP) for n in clip),
        *(Case(n, _transformers(f"facebook/dinov2-{size}"), size == "giant")
          for n, size in DINOV2.items()),  # fmt: skip
        *(Case(n, _transformers(f"facebook/dinov3-{tail}"), "vit7b" in tail or "vith" in tail)
          for n, tail in DINOV3.items()),  # fmt: skip
        *(Case(n, _timm_hub(repo)) for n, repo in LUNIT.items()),
        Case("uni_v1", _timm_hub("MahmoodLab/uni", init_values=1e-5)),
        Case("uni_v2", _timm_hub("MahmoodLab/UNI2-h", swiglu=True), giant=True),
        Case("virchow_v1", _timm_hub("paige-ai/Virchow", swiglu=True), giant=True),
        Case("virchow_v2", _timm_hub("paige-ai/Virchow2", swiglu=True), giant=True),
        Case("prov_gigapath", _timm_hub("prov-gigapath/prov-gigapath"), giant=True),
        Case("h_optimus_0", _timm_hub("bioptimus/H-optimus-0", init_values=1e-5), giant=True),
        Case("h_optimus_1", _timm_hub("bioptimus/H-optimus-1", init_values=1e-5), giant=True),
        Case("h0_mini", _timm_hub("bioptimus/H0-mini", swiglu=True)),
        Case("pathorchestra", _timm_hub("AI4Pathology/PathOrchestra", init_values=1e-5)),
        Case("phikon_v1", _transformers("owkin/phikon", "ViTModel")),
        Case("phikon_v2", _transformers("owkin/phikon-v2")),
        Case("hibou_b", _transformers("histai/hibou-B", needs=HIBOU_FILES)),
        Case("hibou_l", _transformers("histai/hibou-L", needs=HIBOU_FILES)),
        Case("midnight", _transformers("kaiko-ai/midnight", needs=()), giant=True),
        Case("plip", _transformers("vinid/plip", "CLIPModel", CLIP_PROCESSOR)),
        Case("quilt_b_32", _transformers("wisdomik/QuiltNet-B-32", "CLIPModel", CLIP_PROCESSOR)),
        Case("quilt_b_16", _transformers("wisdomik/QuiltNet-B-16", "CLIPModel", CLIP_PROCESSOR)),
        Case("medsiglip", _transformers("google/medsiglip-448"), giant=True),
        Case("biomedclip", lambda layout: p.open_clip_hub_weights(
            layout, "microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224")),
        Case("quilt_b_16_pmb", lambda layout: p.open_clip_hub_weights(
            layout, "wisdomik/QuiltNet-B-16-PMB")),
        Case("omiclip", p.omiclip_weights),
        Case("chief-ctranspath", p.chief_weights),
        Case("openmidnight", None, giant=True, unverifiable=(
            "its builder runs torch.hub.load('facebookresearch/dinov2', ...), code fetched from "
            "GitHub at run time that no package index carries")),
        Case("conch_v1", p.conch_weights),
        Case("conch_v15", None, unverifiable=NEEDS_AUTHORS_CODE.format(
            what="conch_v1_5.py from the gated MahmoodLab/TITAN repository", name="conch_v15")),
        Case("musk", None, unverifiable=NEEDS_AUTHORS_CODE.format(
            what="the musk package (github.com/lilab-stanford/MUSK)", name="musk")),
    ]  # fmt: skip
    return {case.name: case for case in cases}
