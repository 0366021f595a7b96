"""The patch encoders of AtlasPatch 1.1.0's registry: names, dimensions, what each needs, and
each loader fed a random checkpoint written in the layout its authors publish, then run
through the real encoder path (preprocessing included) against the source network."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file

from atlaspatch.encoder_service.catalog import builtin_specs
from atlaspatch.encoder_service.catalog.spec import EncoderSpec, TransformersParams
from atlaspatch.encoder_service.networks.build import build_network
from atlaspatch.encoder_service.networks.encoder import NetworkEncoder
from atlaspatch.encoder_service.networks.external import MissingPackage
from atlaspatch.encoder_service.registry import EncoderRegistry
from tests.parity.random_weights import randomise

# AtlasPatch 1.1.0's registry beyond its README (read off its registrars), with dimensions.
REFERENCE_1_1 = {
    "biomedclip": 512,
    "chief-ctranspath": 768,
    "conch_v1": 512,
    "conch_v15": 768,
    "h0_mini": 1536,
    "hibou_b": 768,
    "hibou_l": 1024,
    "lunit_resnet50_bt": 2048,
    "lunit_resnet50_swav": 2048,
    "lunit_resnet50_mocov2": 2048,
    "lunit_vit_small_patch16_dino": 384,
    "lunit_vit_small_patch8_dino": 384,
    "medsiglip": 1152,
    "midnight": 3072,
    "musk": 1024,
    "omiclip": 768,
    "openmidnight": 1536,
    "pathorchestra": 1024,
    "phikon_v1": 768,
    "phikon_v2": 1024,
    "plip": 512,
    "quilt_b_16": 512,
    "quilt_b_16_pmb": 512,
    "quilt_b_32": 512,
    "virchow_v1": 2560,
    "virchow_v2": 2560,
}
SPECS = {spec.name: spec for spec in builtin_specs()}
CLIP_MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
CLIP_STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def test_every_name_of_atlaspatch_1_1_is_registered_with_its_dimension() -> None:
    for name, dim in REFERENCE_1_1.items():
        assert SPECS[name].embedding_dim == dim, name


@pytest.mark.parametrize("name", ["conch_v1", "conch_v15", "musk"])
def test_encoders_built_by_their_authors_code_say_what_to_install(name: str, tmp_path) -> None:
    from atlaspatch.encoder_service.listing.table import encoders_table

    with pytest.raises(MissingPackage) as error:
        EncoderRegistry().create(name, weights_dir=tmp_path, allow_download=False)
    assert name in str(error.value) and SPECS[name].needs in str(error.value)
    row = next(
        line
        for line in encoders_table(EncoderRegistry(), tmp_path).splitlines()
        if line.startswith(f"{name} ")
    )
    assert SPECS[name].needs in row


def patches(size: int) -> torch.Tensor:
    torch.manual_seed(3)
    return torch.randint(0, 256, (2, size, size, 3), dtype=torch.uint8)


def normalised(batch: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Patches already at the model's input size: only scaling and normalisation apply."""
    return (batch.permute(0, 3, 1, 2).float() / 255 - mean) / std


def embedded(name: str, weights_dir: Path, size: int) -> torch.Tensor:
    encoder = EncoderRegistry().create(name, weights_dir=weights_dir, allow_download=False)
    return encoder.embed(patches(size))


PUBLISHED = Path(__file__).parent / "parity" / "published"


def published_config(repo: str, filename: str = "config.json") -> dict:
    return json.loads((PUBLISHED / repo / filename).read_text())


def encoder_with_config(name: str, config: dict) -> EncoderSpec:
    """`name`'s entry (loader, preprocessing, pooling) around another configuration."""
    params = SPECS[name].params
    assert isinstance(params, TransformersParams)
    return dataclasses.replace(SPECS[name], params=dataclasses.replace(params, config=config))


def test_transformers_clip_from_the_full_clip_checkpoint(tmp_path: Path) -> None:
    """PLIP and QuiltNet publish whole CLIP models: the text tower is left out. Checked on
    transformers' default CLIP (the loader, not PLIP's configuration)."""
    import transformers

    torch.manual_seed(0)
    source = transformers.CLIPModel(transformers.CLIPConfig(projection_dim=512)).eval()
    save_file(source.state_dict(), tmp_path / "plip.safetensors")
    vision = transformers.CLIPVisionConfig().to_diff_dict()
    spec = encoder_with_config("plip", {**vision, "projection_dim": 512})
    encoder = NetworkEncoder(
        spec, build_network(spec, tmp_path / "plip.safetensors"), "cpu", "float32", "", "local"
    )
    with torch.inference_mode():
        pixels = normalised(patches(224), CLIP_MEAN, CLIP_STD)
        expected = source.get_image_features(pixel_values=pixels)
        expected = getattr(expected, "pooler_output", expected)
    assert torch.allclose(encoder.embed(patches(224)), expected, atol=1e-4)


def test_phikon_is_its_published_vit_taking_the_cls_token(tmp_path: Path) -> None:
    """owkin/phikon's config.json (its layer-norm epsilon 1e-6, not ViT's default 1e-12)."""
    import transformers

    torch.manual_seed(0)
    config = transformers.ViTConfig(**published_config("owkin/phikon"))
    source = randomise(transformers.ViTModel(config), 0)
    assert any(key.startswith("pooler.") for key in source.state_dict())
    save_file(source.state_dict(), tmp_path / "phikon_v1.safetensors")
    with torch.inference_mode():
        pixels = normalised(patches(224), IMAGENET_MEAN, IMAGENET_STD)
        expected = source(pixel_values=pixels).last_hidden_state[:, 0]
    assert torch.allclose(embedded("phikon_v1", tmp_path, 224), expected, atol=1e-4)


def test_hibou_is_its_published_dinov2_with_registers_and_swiglu(tmp_path: Path) -> None:
    """histai/hibou-B's config.json: 4 registers, SwiGLU, the pooled output. Its repository's
    own modeling code (trust_remote_code) is not available here: transformers' DINOv2 with
    registers stands in for it."""
    import transformers

    published = published_config("histai/hibou-B")
    fields = {k: v for k, v in published.items() if not k.startswith(("_", "auto_map"))}
    torch.manual_seed(0)
    config = transformers.Dinov2WithRegistersConfig(**fields)
    source = randomise(transformers.Dinov2WithRegistersModel(config), 0)
    save_file(source.state_dict(), tmp_path / "hibou_b.safetensors")
    spec = SPECS["hibou_b"]
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (spec.mean, spec.std))
    with torch.inference_mode():
        expected = source(pixel_values=normalised(patches(224), mean, std)).pooler_output
    assert torch.allclose(embedded("hibou_b", tmp_path, 224), expected, atol=1e-4)


def open_clip_tower(embed_dim: int, vision_cfg: dict) -> torch.nn.Module:
    from open_clip.model import CLIPVisionCfg, _build_vision_tower

    torch.manual_seed(0)
    return _build_vision_tower(embed_dim, CLIPVisionCfg(**vision_cfg)).eval()


def test_biomedclip_image_tower_from_the_open_clip_checkpoint(tmp_path: Path) -> None:
    """The tower its published open_clip_config.json describes, inside a whole-model file."""
    model_cfg = published_config(
        "microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224", "open_clip_config.json"
    )["model_cfg"]
    tower = open_clip_tower(model_cfg["embed_dim"], model_cfg["vision_cfg"])
    published = {f"visual.{key}": value for key, value in tower.state_dict().items()}
    published["text.transformer.embeddings.word_embeddings.weight"] = torch.zeros(8, 4)
    published["logit_scale"] = torch.tensor(4.6)
    torch.save(published, tmp_path / "biomedclip.bin")
    with torch.inference_mode():
        expected = tower(normalised(patches(224), CLIP_MEAN, CLIP_STD))
    assert torch.allclose(embedded("biomedclip", tmp_path, 224), expected, atol=1e-4)


def test_a_training_checkpoint_of_an_open_clip_model_is_unwrapped(tmp_path: Path) -> None:
    """OmiCLIP publishes its training checkpoint: {"state_dict": {"module.visual...": ...}}.
    The same unwrapping is checked on the tower QuiltNet-B-16-PMB's open_clip_config.json
    describes."""
    model_cfg = published_config("wisdomik/QuiltNet-B-16-PMB", "open_clip_config.json")
    tower = open_clip_tower(
        model_cfg["model_cfg"]["embed_dim"], model_cfg["model_cfg"]["vision_cfg"]
    )
    published = {f"module.visual.{key}": value for key, value in tower.state_dict().items()}
    torch.save({"epoch": 10, "state_dict": published}, tmp_path / "quilt_b_16_pmb.pt")
    with torch.inference_mode():
        expected = tower(normalised(patches(224), CLIP_MEAN, CLIP_STD))
    assert torch.allclose(embedded("quilt_b_16_pmb", tmp_path, 224), expected, atol=1e-4)


def test_a_dinov2_checkpoint_with_registers_loads_into_timm(tmp_path: Path) -> None:
    """OpenMidnight's file is in Meta's DINOv2 layout (register_tokens, mask_token, the CLS
    position inside pos_embed); checked on the ViT-S of the same family."""
    torch.manual_seed(0)
    source = timm.create_model(
        "vit_small_patch14_reg4_dinov2", img_size=224, num_classes=0, pretrained=False
    ).eval()
    with torch.no_grad():  # timm starts them near 0, where LayerNorm magnifies rounding
        source.cls_token.normal_()
        source.reg_token.normal_()
    state = source.state_dict()
    cls_position = torch.randn(1, 1, state["pos_embed"].shape[-1])
    published = {k: v for k, v in state.items() if k not in ("reg_token", "cls_token")}
    published["register_tokens"] = state["reg_token"]
    published["cls_token"] = state["cls_token"] - cls_position
    published["pos_embed"] = torch.cat([cls_position, state["pos_embed"]], dim=1)
    published["mask_token"] = torch.zeros(1, state["pos_embed"].shape[-1])
    torch.save(published, tmp_path / "teacher_checkpoint_load.pt")
    spec = dataclasses.replace(SPECS["openmidnight"], architecture="vit_small_patch14_reg4_dinov2")
    network = build_network(spec, tmp_path / "teacher_checkpoint_load.pt")
    encoder = NetworkEncoder(spec, network, "cpu", "float32", "", "local")
    with torch.inference_mode():
        expected = source(normalised(patches(224), IMAGENET_MEAN, IMAGENET_STD))
    assert torch.allclose(encoder.embed(patches(224)), expected, atol=1e-4)


def test_lunit_preprocessing_comes_from_its_repositorys_config(tmp_path: Path) -> None:
    """timm's data config: resize to 224 / crop_pct, keep the centre 224, its mean and std."""
    torch.manual_seed(0)
    source = timm.create_model("resnet50", num_classes=0, pretrained=False).eval()
    folder = tmp_path / "lunit_resnet50_bt"
    folder.mkdir()
    save_file(source.state_dict(), folder / "model.safetensors")
    mean, std = [0.70322989, 0.53606487, 0.66096631], [0.21716536, 0.26081574, 0.20723464]
    (folder / "config.json").write_text(
        json.dumps(
            {
                "architecture": "resnet50",
                "pretrained_cfg": {
                    "input_size": [3, 224, 224],
                    "interpolation": "bilinear",
                    "crop_pct": 0.875,
                    "mean": mean,
                    "std": std,
                },
            }
        )
    )
    encoder = EncoderRegistry().create("lunit_resnet50_bt", weights_dir=tmp_path)
    assert encoder.describe().preprocessing["mean"] == mean
    batch = patches(256)  # 224 / 0.875 = 256: nothing to resize, the centre 224 kept
    with torch.inference_mode():
        centre = batch[:, 16:240, 16:240]
        m, s = (torch.tensor(v).view(1, 3, 1, 1) for v in (mean, std))
        expected = source(normalised(centre, m, s))
    assert torch.allclose(encoder.embed(batch), expected, atol=1e-4)


def test_a_checkpoint_of_another_model_is_refused_naming_what_is_missing(tmp_path) -> None:
    save_file({"something.else": torch.zeros(3)}, tmp_path / "phikon_v1.safetensors")
    with pytest.raises(ValueError, match="not this model's checkpoint"):
        EncoderRegistry().create("phikon_v1", weights_dir=tmp_path)
