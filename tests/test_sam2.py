"""SAM2 tissue segmentation with the real sam2 code and a randomly initialised checkpoint."""

from __future__ import annotations

import hashlib
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from atlaspatch.orchestrator.cli import main
from atlaspatch.segmenter_service.checkpoint import (
    SAM2,
    CheckpointNotFound,
    resolve_sam2_checkpoint,
)
from atlaspatch.segmenter_service.sam2_backend import CheckpointFormatError, Sam2Segmenter
from tests.conftest import SLIDES

pytestmark = pytest.mark.slow


def test_checkpoint_is_in_atlaspatch_format(sam2_checkpoint: Path) -> None:
    state = torch.load(sam2_checkpoint, map_location="cpu", weights_only=True)
    assert set(state) == {"model"}
    assert any(key.startswith("image_encoder.trunk") for key in state["model"])
    assert any(key.startswith("sam_mask_decoder") for key in state["model"])


def test_masks_match_thumbnails_and_batching_changes_nothing(sam2_checkpoint: Path) -> None:
    segmenter = Sam2Segmenter(sam2_checkpoint, device="cpu")
    rng = np.random.default_rng(0)
    thumbnails = [
        rng.integers(0, 255, (150, 210, 3), dtype=np.uint8),
        rng.integers(0, 255, (333, 97, 3), dtype=np.uint8),
    ]
    together = segmenter.segment(thumbnails)
    alone = [segmenter.segment([t])[0] for t in thumbnails]
    for thumbnail, mask, single in zip(thumbnails, together, alone, strict=True):
        assert mask.dtype == bool and mask.shape == thumbnail.shape[:2]
        assert (mask == single).mean() > 0.999
    assert len(segmenter.provenance()["checkpoint_sha256"]) == 64


def test_mask_is_the_models_logits_above_zero(sam2_checkpoint: Path) -> None:
    """Independent path: the sam2 model called directly, without our backend."""
    from sam2.build_sam import build_sam2
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    model = build_sam2(
        "configs/sam2.1/sam2.1_hiera_t.yaml", None, device="cpu", apply_postprocessing=False
    )
    model.load_state_dict(torch.load(sam2_checkpoint, weights_only=True)["model"])
    predictor = SAM2ImagePredictor(model.eval())
    image = np.random.default_rng(1).integers(0, 255, (1024, 1024, 3), dtype=np.uint8)
    with torch.inference_mode():
        predictor.set_image(image)
        _, _, low_res = predictor.predict(box=np.array([0, 0, 1024, 1024]), multimask_output=False)
        logits = predictor._transforms.postprocess_masks(
            torch.as_tensor(low_res)[None], (1024, 1024)
        )
    expected = (logits[0, 0] > 0).numpy()
    ours = Sam2Segmenter(sam2_checkpoint).segment([image])[0]
    assert (ours == expected).mean() > 0.999


def test_wrong_checkpoint_format_is_refused(tmp_path: Path) -> None:
    bare = tmp_path / "bare.pth"
    torch.save({"weights": {}}, bare)
    with pytest.raises(CheckpointFormatError, match="key 'model'"):
        Sam2Segmenter(bare)
    other = tmp_path / "other.pth"
    torch.save({"model": {"not.a.sam2.key": torch.zeros(1)}}, other)
    with pytest.raises(CheckpointFormatError, match="does not fit"):
        Sam2Segmenter(other)


def test_missing_checkpoint_says_how_to_get_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SAM2.env, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(CheckpointNotFound) as error:
        resolve_sam2_checkpoint(None)
    message = str(error.value)
    assert "--sam2-checkpoint" in message and "--tissue-model otsu" in message
    assert SAM2.env in message


def test_checkpoint_from_the_hugging_face_cache(
    sam2_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The standard hub cache layout: refs/main names a snapshot holding model.pth."""
    repo = tmp_path / "hub" / "models--AtlasAnalyticsLab--AtlasPatch"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abcd")
    (repo / "snapshots" / "0123abcd").mkdir(parents=True)
    (repo / "snapshots" / "0123abcd" / "model.pth").symlink_to(sam2_checkpoint)
    monkeypatch.delenv(SAM2.env, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    found = resolve_sam2_checkpoint(None)
    assert found == repo / "snapshots" / "0123abcd" / "model.pth"


def test_checkpoint_from_environment(
    sam2_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SAM2.env, str(sam2_checkpoint))
    assert resolve_sam2_checkpoint(None) == sam2_checkpoint


@pytest.mark.shared_data
def test_cli_end_to_end_with_batched_sam2(sam2_checkpoint: Path, tmp_path: Path) -> None:
    slides = tmp_path / "slides"
    slides.mkdir()
    for name in ("CMU-1-Small-Region.svs", "hamamatsu-fluorescence-dapi.ndpi"):
        (slides / name).symlink_to(SLIDES / name)
    result = CliRunner().invoke(
        main,
        [
            "detect-tissue",
            str(slides),
            "-o",
            str(tmp_path / "out"),
            "--device",
            "cpu",
            "--sam2-checkpoint",
            str(sam2_checkpoint),
            "--seg-batch-size",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    pictures = sorted(p.name for p in (tmp_path / "out" / "visualization").iterdir())
    assert pictures == [
        "CMU-1-Small-Region_mask.png",
        "CMU-1-Small-Region_mask_bw.png",
        "hamamatsu-fluorescence-dapi_mask.png",
        "hamamatsu-fluorescence-dapi_mask_bw.png",
    ]


@pytest.mark.shared_data
def test_cli_without_checkpoint_fails_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SAM2.env, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    result = CliRunner().invoke(
        main, ["detect-tissue", str(SLIDES / "small.svs"), "-o", str(tmp_path), "--device", "cpu"]
    )
    assert result.exit_code != 0
    assert "--tissue-model otsu" in result.output
    assert not (tmp_path / "visualization").exists()


def test_provenance_lands_in_the_h5(sam2_checkpoint: Path, tmp_path: Path, synthetic_slide) -> None:
    result = CliRunner().invoke(
        main,
        [
            "segment-and-get-coords",
            str(synthetic_slide.path),
            "-o",
            str(tmp_path),
            "--patch-size",
            "256",
            "--target-mag",
            "20",
            "--device",
            "cpu",
            "--sam2-checkpoint",
            str(sam2_checkpoint),
            "--min-tissue-fraction",
            "0",
        ],
    )
    # The seeded random model marks about 60% of any image as tissue, so patches exist.
    assert result.exit_code == 0, result.output
    with h5py.File(tmp_path / "patches" / "synthetic-40x.h5") as f:
        assert f.attrs["tissue_model"] == "sam2"
        assert (
            f.attrs["checkpoint_sha256"] == hashlib.sha256(sam2_checkpoint.read_bytes()).hexdigest()
        )
        assert f.attrs["num_patches"] == len(f["coords"]) > 0
