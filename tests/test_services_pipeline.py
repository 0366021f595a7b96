"""`atlaspatch process` and `segment-and-get-coords` through the model services, with output
equal to the in-process pipeline."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from atlaspatch.api.hosting.server import ServerSettings
from atlaspatch.client.channel import Endpoint
from atlaspatch.client.remote import RemoteSegmenter
from atlaspatch.segmenter_service.server import segmenter_server
from tests.background_server import BackgroundServer
from tests.cli import coords_run, process_run
from tests.service_helpers import start_encoder


def test_process_through_both_services_equals_in_process(tmp_path: Path, synthetic_slide) -> None:
    with (
        BackgroundServer(lambda: segmenter_server(ServerSettings(), "otsu")) as segmenter,
        start_encoder() as encoder,
    ):
        remote = process_run(
            synthetic_slide.path,
            tmp_path / "remote",
            "--feature-extractors",
            "efficientnet_lite0",
            "--segmenter-url",
            segmenter.address,
            "--encoder-url",
            f"grpc://{encoder.address}",
        )
        assert remote.exit_code == 0, remote.output
        assert (
            RemoteSegmenter(Endpoint.parse(segmenter.address), "otsu").provenance()["tissue_model"]
            == "otsu"
        )
    local = process_run(
        synthetic_slide.path, tmp_path / "local", "--feature-extractors", "efficientnet_lite0"
    )
    assert local.exit_code == 0, local.output
    with (
        h5py.File(tmp_path / "remote/patches/synthetic-40x.h5") as r,
        h5py.File(tmp_path / "local/patches/synthetic-40x.h5") as here,
    ):
        assert np.array_equal(r["coords"][...], here["coords"][...])
        a, b = r["features/efficientnet_lite0"][...], here["features/efficientnet_lite0"][...]
        cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        assert cosine.min() >= 0.9999
        assert r.attrs["tissue_model"] == here.attrs["tissue_model"] == "otsu"


def test_coordinates_through_the_segmenter_service(tmp_path: Path, synthetic_slide) -> None:
    with BackgroundServer(lambda: segmenter_server(ServerSettings(), "otsu")) as segmenter:
        result = coords_run(
            synthetic_slide.path, tmp_path / "remote", "--segmenter-url", segmenter.address
        )
        assert result.exit_code == 0, result.output
        wrong_model = coords_run(
            synthetic_slide.path,
            tmp_path / "x",
            "--segmenter-url",
            segmenter.address,
            "--tissue-model",
            "sam2",
        )
        assert wrong_model.exit_code != 0
    assert coords_run(synthetic_slide.path, tmp_path / "local").exit_code == 0
    with (
        h5py.File(tmp_path / "remote/patches/synthetic-40x.h5") as r,
        h5py.File(tmp_path / "local/patches/synthetic-40x.h5") as here,
    ):
        assert np.array_equal(r["coords"][...], here["coords"][...])
