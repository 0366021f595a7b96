"""GrandQC's tissue model (--tissue-model grandqc): its published architecture built with
segmentation-models-pytorch, a randomly initialised checkpoint in its published layout (a
plain state_dict) loaded strictly, the mask computed as GrandQC's own inference script does
(cpath-ukk/grandqc at 045b7a2, 01_WSI_inference_OPENSLIDE_QC/wsi_tis_detect.py: 10 µm/px,
JPEG at quality 80, 512-px tiles without overlap, the last flush with the edge, ImageNet
normalisation, argmax, class 0 tissue), in process and on the segmenter service."""

from __future__ import annotations

import cv2
import h5py
import numpy as np
import pytest
import torch

from atlaspatch.api.hosting.server import ServerSettings
from atlaspatch.orchestrator import python_api as ap
from atlaspatch.segmenter_service.grandqc import GrandQCTissue, tissue_network
from atlaspatch.segmenter_service.grandqc_network import MEAN, STD
from atlaspatch.segmenter_service.server import segmenter_server
from tests.background_server import BackgroundServer
from tests.cli import atlaspatch, coords_run


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """Random weights, the head's bias set so that a picture half glass, half stain splits
    between the classes: the mask depends on the picture."""
    torch.manual_seed(0)
    network = tissue_network().eval()
    picture = np.full((512, 512, 3), 240, np.float32)
    picture[:, 256:] = (150, 60, 140)
    x = torch.from_numpy(
        (((picture / 255) - MEAN) / STD).transpose(2, 0, 1)[None].astype("float32")
    )
    with torch.no_grad():
        logits = network(x)[0]
        network.segmentation_head[0].bias[0] -= (logits[0] - logits[1]).median()
    path = tmp_path_factory.mktemp("grandqc") / "Tissue_Detection_MPP10.pth"
    torch.save(network.state_dict(), path)
    return path


def grandqc_reference(thumbnail: np.ndarray, path) -> np.ndarray:
    """GrandQC's loop, transcribed: the image at 10 µm/px (from 8), JPEG q80 in and out,
    tiles of 512 at (i*512) but the last at (size - 512), each normalised and predicted."""
    network = tissue_network()
    network.load_state_dict(torch.load(path, weights_only=True))
    network.eval()
    height, width = thumbnail.shape[:2]
    image = cv2.resize(
        thumbnail, (round(width * 0.8), round(height * 0.8)), interpolation=cv2.INTER_AREA
    )
    _, buffer = cv2.imencode(".jpg", image, [int(cv2.IMWRITE_JPEG_QUALITY), 80])
    image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    h, w = image.shape[:2]
    assert h >= 512 and w >= 512  # the test's thumbnail needs no padding
    mask = np.zeros((h, w), np.uint8)
    for i in range(-(-h // 512)):
        for j in range(-(-w // 512)):
            top, left = min(i * 512, h - 512), min(j * 512, w - 512)
            tile = image[top : top + 512, left : left + 512] / 255.0
            tile = (tile - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
            x = torch.from_numpy(tile.transpose(2, 0, 1)[None].astype("float32"))
            with torch.no_grad():
                predicted = network(x)[0].argmax(0).numpy()
            mask[top : top + 512, left : left + 512] = predicted == 0
    return cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)


def test_the_published_layout_loads_and_a_wrong_one_is_refused(checkpoint, tmp_path) -> None:
    state = torch.load(checkpoint, weights_only=True)
    assert next(iter(state)).startswith("encoder.") and "segmentation_head.0.weight" in state
    assert state["segmentation_head.0.weight"].shape[0] == 2
    wrong = tmp_path / "wrong.pth"
    torch.save({key: value for key, value in state.items() if not key.startswith("decoder")}, wrong)
    with pytest.raises(Exception, match="does not fit GrandQC's UNet"):
        GrandQCTissue(wrong)


def test_the_mask_is_grandqcs_own(checkpoint, tmp_path) -> None:
    from atlaspatch.orchestrator.synthetic import write_synthetic_slide

    slide = write_synthetic_slide(tmp_path / "big.tiff", width=28000, height=21000, seed=3)
    with ap.open_slide(slide.path) as opened:
        thumbnail = opened.thumbnail
    assert min(thumbnail.shape[:2]) * 0.8 > 512  # several tiles, the last ones flush
    ours = GrandQCTissue(checkpoint).segment([thumbnail])[0]
    expected = grandqc_reference(thumbnail, checkpoint)
    assert 0.01 < expected.mean() < 0.99  # the checkpoint tells things apart
    assert (ours == expected).mean() >= 0.999


def test_grandqc_in_process_and_on_the_service_give_the_same_patches(
    checkpoint, synthetic_slide, tmp_path
) -> None:
    model = ("--tissue-model", "grandqc")
    here = coords_run(
        synthetic_slide.path, tmp_path / "here", *model, "--grandqc-checkpoint", checkpoint
    )
    assert here.exit_code == 0, here.output
    build = lambda: segmenter_server(ServerSettings(), "grandqc", checkpoint=checkpoint)  # noqa: E731
    with BackgroundServer(build) as service:
        there = coords_run(
            synthetic_slide.path, tmp_path / "there", *model, "--segmenter-url", service.address
        )
    assert there.exit_code == 0, there.output
    name = f"patches/{synthetic_slide.path.stem}.h5"
    with h5py.File(tmp_path / "here" / name) as a, h5py.File(tmp_path / "there" / name) as b:
        np.testing.assert_array_equal(a["coords"][...], b["coords"][...])
        assert a.attrs["tissue_model"] == "grandqc" and a.attrs["checkpoint_sha256"]
        assert a.attrs["checkpoint_sha256"] == b.attrs["checkpoint_sha256"]


def test_a_missing_checkpoint_says_where_to_get_it(synthetic_slide, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("ATLASPATCH_GRANDQC_CHECKPOINT", raising=False)
    result = atlaspatch(
        "segment-and-get-coords", synthetic_slide.path, "-o", tmp_path, "--patch-size", "256",
        "--target-mag", "20", "--tissue-model", "grandqc",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "no GrandQC tissue checkpoint found" in result.output
    assert "https://zenodo.org/records/14507273" in result.output
