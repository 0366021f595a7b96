"""GrandQC's artifact model (--artifact-model grandqc): its published architecture (a U-Net,
EfficientNet-B0, eight classes) with random weights in the published state_dict layout, each
patch scored as GrandQC's wsi_process.py classifies pixels (1 µm/px, Lanczos, ImageNet
normalisation, argmax), the classes mapped onto the quality scores; in process and on the
segmenter service, which refuses what it cannot score."""

from __future__ import annotations

import json

import cv2
import grpc
import h5py
import numpy as np
import pytest
import torch

from atlaspatch.api import wire
from atlaspatch.api.hosting.model_files import file_sha256
from atlaspatch.api.hosting.server import ServerSettings
from atlaspatch.api.v1 import segmenter_pb2, segmenter_pb2_grpc
from atlaspatch.segmenter_service.grandqc_artifacts import (
    CLASSES,
    GrandQCArtifacts,
    artifact_network,
)
from atlaspatch.segmenter_service.grandqc_network import MEAN, STD
from atlaspatch.segmenter_service.server import segmenter_server
from tests.background_server import BackgroundServer
from tests.cli import coords_run

READ = ("--no-fast-mode",)


def checkpoint_favouring(path, favoured: int | None):
    """Random weights; the head's bias makes class `favoured` win everywhere, or (None)
    splits a half-glass, half-stain picture between two classes."""
    torch.manual_seed(1)
    network = artifact_network().eval()
    with torch.no_grad():
        bias = network.segmentation_head[0].bias
        if favoured is not None:
            bias.fill_(-100.0)
            bias[favoured] = 100.0
        else:
            picture = np.full((64, 64, 3), 240, np.float32)
            picture[:, 32:] = (150, 60, 140)
            x = torch.from_numpy((((picture / 255) - MEAN) / STD).transpose(2, 0, 1)[None].copy())
            logits = network(x)[0]
            bias.fill_(-100.0)
            bias[1], bias[4] = 0.0, -float((logits[4] - logits[1]).median())
    torch.save(network.state_dict(), path)
    return path


def grandqc_shares(network, patch: np.ndarray, mpp: float) -> np.ndarray:
    """GrandQC's pixel classes, transcribed: resize to 1 µm/px (Lanczos), normalise, argmax."""
    side = round(patch.shape[0] * mpp)
    image = cv2.resize(patch, (side, side), interpolation=cv2.INTER_LANCZOS4) / 255.0
    padded = np.ones((-(-side // 32) * 32,) * 2 + (3,))
    padded[:side, :side] = image
    x = torch.from_numpy(((padded - MEAN) / STD).transpose(2, 0, 1)[None].astype("float32"))
    with torch.no_grad():
        classes = network(x)[0].argmax(0).numpy()[:side, :side]
    return np.bincount(classes.ravel(), minlength=8) / classes.size


def test_shares_are_grandqcs_pixel_classes(tmp_path, synthetic_slide) -> None:
    path = checkpoint_favouring(tmp_path / "split.pth", None)
    network = artifact_network()
    network.load_state_dict(torch.load(path, weights_only=True))
    network.eval()
    rng = np.random.default_rng(0)
    patches = np.stack([_synthetic_patch(rng) for _ in range(3)])
    ours = GrandQCArtifacts(path).shares(patches, 0.5)
    for patch, row in zip(patches, ours, strict=True):
        np.testing.assert_allclose(row, grandqc_shares(network, patch, 0.5), atol=0.02)
    assert ours[:, CLASSES.index("pen_marking")].max() > 0  # the head tells pixels apart


def test_the_classes_become_the_scores_and_the_verdict(tmp_path, synthetic_slide) -> None:
    pen = checkpoint_favouring(tmp_path / "pen.pth", CLASSES.index("pen_marking"))
    model = ("--artifact-model", "grandqc", "--artifact-checkpoint", pen, *READ)
    result = coords_run(synthetic_slide.path, tmp_path / "pen", *model)
    assert result.exit_code == 0, result.output
    with h5py.File(tmp_path / "pen" / "patches" / f"{synthetic_slide.path.stem}.h5") as h5:
        qc = h5["qc"]
        assert (qc["pen"][...] == 1).all() and (qc["fold"][...] == 0).all()
        assert not qc["usable"][...].any()
        assert qc.attrs["source"].startswith("artifact model")
        provenance = json.loads(qc.attrs["artifact_model"])
        assert provenance["artifact_model"] == "grandqc"
        assert provenance["artifact_checkpoint_sha256"] == file_sha256(pen)
    dropped = coords_run(synthetic_slide.path, tmp_path / "dropped", *model, "--drop-artifacts")
    assert dropped.exit_code == 1 and "unusable" in dropped.output and "pen (" in dropped.output


def test_scores_of_another_checkpoint_are_not_reused(tmp_path, synthetic_slide) -> None:
    first = checkpoint_favouring(tmp_path / "pen.pth", CLASSES.index("pen_marking"))
    second = checkpoint_favouring(tmp_path / "fold.pth", CLASSES.index("fold"))
    model = ("--artifact-model", "grandqc", *READ, "--artifact-checkpoint")
    assert coords_run(synthetic_slide.path, tmp_path, *model, first).exit_code == 0
    same = coords_run(synthetic_slide.path, tmp_path, *model, first)
    assert same.exit_code == 0 and "output exists" in same.output
    other = coords_run(synthetic_slide.path, tmp_path, *model, second)
    assert other.exit_code == 1 and "a different grandqc artifact checkpoint" in other.output
    assert coords_run(synthetic_slide.path, tmp_path, *model, second, "--force").exit_code == 0
    with h5py.File(tmp_path / "patches" / f"{synthetic_slide.path.stem}.h5") as h5:
        provenance = json.loads(h5["qc"].attrs["artifact_model"])
        assert provenance["artifact_checkpoint_sha256"] == file_sha256(second)
        assert (h5["qc"]["fold"][...] == 1).all() and (h5["qc"]["pen"][...] == 0).all()


def test_on_the_service_the_scores_are_the_same(tmp_path, synthetic_slide) -> None:
    path = checkpoint_favouring(tmp_path / "split.pth", None)
    here = coords_run(synthetic_slide.path, tmp_path / "here", *READ, "--artifact-model",
                      "grandqc", "--artifact-checkpoint", path)  # fmt: skip
    assert here.exit_code == 0, here.output
    build = lambda: segmenter_server(  # noqa: E731
        ServerSettings(), "otsu", artifact_model="grandqc", artifact_checkpoint=path
    )
    with BackgroundServer(build) as service:
        there = coords_run(synthetic_slide.path, tmp_path / "there", *READ, "--artifact-model",
                           "grandqc", "--segmenter-url", service.address)  # fmt: skip
        assert there.exit_code == 0, there.output
        stub = segmenter_pb2_grpc.SegmenterStub(grpc.insecure_channel(service.address))
        patch = wire.image_to_proto(np.zeros((64, 64, 3), np.uint8))
        for request, reason in [
            (segmenter_pb2.ScorePatchesRequest(patch_mpp=0.5, patches=[patch] * 257), "at most"),
            (segmenter_pb2.ScorePatchesRequest(patch_mpp=0.5), "no patches"),
            (segmenter_pb2.ScorePatchesRequest(patch_mpp=0.01, patches=[patch]), "outside"),
            (segmenter_pb2.ScorePatchesRequest(patch_mpp=19, patches=[patch]), "over 1024"),
        ]:
            with pytest.raises(grpc.RpcError) as refused:
                stub.ScorePatches(request, timeout=30)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert reason in refused.value.details()
    name = f"patches/{synthetic_slide.path.stem}.h5"
    with h5py.File(tmp_path / "here" / name) as a, h5py.File(tmp_path / "there" / name) as b:
        for score in ("blur", "pen", "fold", "bubble", "background", "usable"):
            np.testing.assert_array_equal(a["qc"][score][...], b["qc"][score][...])


def test_a_service_without_the_model_and_fast_mode_are_refused(tmp_path, synthetic_slide) -> None:
    with BackgroundServer(lambda: segmenter_server(ServerSettings(), "otsu")) as service:
        result = coords_run(synthetic_slide.path, tmp_path / "x", *READ, "--artifact-model",
                            "grandqc", "--segmenter-url", service.address)  # fmt: skip
    assert result.exit_code == 1 and "not 'grandqc'" in result.output
    fast = coords_run(synthetic_slide.path, tmp_path / "y", "--artifact-model", "grandqc")
    assert fast.exit_code == 2 and "--no-fast-mode" in fast.output


def test_grandqcs_pickled_models_are_refused_with_the_way_out(tmp_path) -> None:
    pickled = tmp_path / "GrandQC_MPP15.pth"
    torch.save(artifact_network(), pickled)
    with pytest.raises(Exception, match="GrandQC_MPP1_state_dict.pth"):
        GrandQCArtifacts(pickled)


def _synthetic_patch(rng: np.random.Generator) -> np.ndarray:
    patch = np.full((128, 128, 3), 240, np.uint8)
    patch[:, 40:] = (150, 60, 140)
    return np.clip(patch + rng.normal(0, 6, patch.shape), 0, 255).astype(np.uint8)
