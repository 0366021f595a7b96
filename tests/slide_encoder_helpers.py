"""Test material for slide and patient encoders: a MOOZY checkpoint with random weights in
the package's format, and feature sets written straight into a `process` output."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import torch

MOOZY_PATCH_ENCODER = "lunit_vit_small_patch8_dino"


def write_random_moozy(path: Path, seed: int = 0, layers: int = 1) -> Path:
    """MOOZY's real widths (384-d patch features in, 768-d out, 12 heads, 4 registers) with
    `layers` layers per transformer (the real model has more; the loader reads the number
    from the checkpoint), randomly initialised, saved as `moozy.pt` is."""
    from moozy.models.moozy_slide_encoder import MOOZYSlideEncoder
    from moozy.models.serialization import (
        extract_case_transformer_config,
        extract_slide_encoder_config,
    )
    from moozy.models.stage2_supervised import MOOZY

    torch.manual_seed(seed)
    slide_encoder = MOOZYSlideEncoder(
        feat_dim=384, d_model=768, n_heads=12, n_layers=layers, dim_feedforward=1024,
        num_registers=4, dropout=0.1, qk_norm=False,
    )  # fmt: skip
    model = MOOZY(
        slide_encoder=slide_encoder, case_transformer_layers=layers,
        case_transformer_heads=12, case_transformer_ffn_dim=1024,
    )  # fmt: skip
    payload = {
        "teacher_slide_encoder": model.slide_encoder.state_dict(),
        "case_transformer": model.case_transformer.state_dict(),
        "slide_encoder_config": extract_slide_encoder_config(model.slide_encoder),
        "case_transformer_config": extract_case_transformer_config(model.case_transformer),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, path)
    return path


def add_feature_set(h5_path: Path, name: str, dim: int, seed: int = 0) -> np.ndarray:
    """A complete `features/<name>` of random rows, as if an encoder had written it."""
    with h5py.File(h5_path, "r+") as h5:
        rows = len(h5["coords"])
        matrix = np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)
        h5.require_group("features").create_dataset(name, data=matrix)
    return matrix


# What `process` and the encoding commands share in these tests: MOOZY's patch geometry.
GEOMETRY = ("--patch-size", "224", "--target-mag", "20", "--tissue-model", "otsu")
CPU = ("--device", "cpu")
FEATURES = "efficientnet_lite0"


def write_slides(folder: Path, stems: tuple[str, ...] = ("a", "b")) -> Path:
    """Small synthetic 40x slides with a few dozen tissue patches of 224 px at 20x each."""
    from atlaspatch.orchestrator.synthetic import write_synthetic_slide

    for seed, stem in enumerate(stems, start=1):
        write_synthetic_slide(folder / f"{stem}.tiff", width=4000, height=3000, seed=seed)
    return folder


def processed_output(root: Path) -> tuple[Path, Path]:
    """Slides a and b, `process`ed with efficientnet_lite0 (real weights), and MOOZY's patch
    features added as random rows: (slides folder, output folder)."""
    from tests.cli import atlaspatch

    slides, out = write_slides(root / "slides"), root / "out"
    result = atlaspatch(
        "process", slides, "-o", out, *GEOMETRY, *CPU, "--feature-extractors", FEATURES
    )
    assert result.exit_code == 0, result.output
    for seed, stem in enumerate(("a", "b")):
        add_feature_set(out / "patches" / f"{stem}.h5", MOOZY_PATCH_ENCODER, 384, seed)
    return slides, out


def moozy_package_embedding(checkpoint: Path, h5_files: list[Path], out: Path) -> np.ndarray:
    """What the moozy package's own `run_encoding` (the reference's path) makes of these
    files with this checkpoint."""
    from unittest import mock

    import moozy.encoding

    with mock.patch.object(moozy.encoding, "ensure_checkpoint", return_value=str(checkpoint)):
        moozy.encoding.run_encoding([str(p) for p in h5_files], str(out))
    with h5py.File(out, "r") as h5:
        return h5["features"][...]
