"""An encoder service restarted mid-run with other settings: the run keeps the precision it
began with, and other weights fail the slide instead of mixing two models in one file."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import h5py
import numpy as np
import torch

from atlaspatch.api.hosting.server import ServerSettings
from atlaspatch.encoder_service.networks.weights import resolve_weights
from atlaspatch.encoder_service.registry import EncoderRegistry
from atlaspatch.encoder_service.serving.handler import Batching
from atlaspatch.encoder_service.serving.server import encoder_server
from tests.background_server import BackgroundServer
from tests.cli import process_run
from tests.service_helpers import free_port

LITE = "efficientnet_lite0"


def _service(port: int, precision: str = "", weights_dir: Path | None = None) -> BackgroundServer:
    settings = ServerSettings(port=port, grace_seconds=0)
    return BackgroundServer(
        lambda: encoder_server(
            settings, EncoderRegistry(), [LITE], "cpu", precision, weights_dir, Batching()
        )[0]
    )


def _restarted_mid_run(tmp_path: Path, slide: Path, **restart) -> tuple[object, BackgroundServer]:
    port = free_port()
    first = _service(port)
    outcome: dict = {}

    def run() -> None:
        outcome["result"] = process_run(
            slide, tmp_path / "run", "--feature-extractors", LITE,
            "--encoder-url", f"127.0.0.1:{port}", "--feature-batch-size", "2",
        )  # fmt: skip

    worker = threading.Thread(target=run)
    worker.start()
    served = lambda: first.server.metrics.value(  # noqa: E731
        "atlaspatch_requests_total", method="Embed", code="OK"
    )
    deadline = time.monotonic() + 120
    while served() < 4 and time.monotonic() < deadline:  # the run is under way
        time.sleep(0.05)
    first.stop()
    time.sleep(1.0)
    second = _service(port, **restart)
    worker.join(timeout=300)
    second.stop()
    return outcome["result"], second


def test_a_service_restarted_with_another_default_precision_still_computes_the_runs(
    tmp_path: Path, synthetic_slide
) -> None:
    result, second = _restarted_mid_run(tmp_path, synthetic_slide.path, precision="bfloat16")
    assert result.exit_code == 0, result.output
    served = second.server.metrics.value("atlaspatch_requests_total", method="Embed", code="OK")
    assert served > 0  # the run went on against the restarted service
    clean = process_run(synthetic_slide.path, tmp_path / "clean", "--feature-extractors", LITE)
    assert clean.exit_code == 0
    with (
        h5py.File(tmp_path / "run/patches/synthetic-40x.h5") as run,
        h5py.File(tmp_path / "clean/patches/synthetic-40x.h5") as reference,
    ):
        features = run[f"features/{LITE}"]
        assert features.attrs["precision"] == "float32"
        # bfloat16 rows would differ from float32 ones by about 1e-2 in cosine.
        a, b = features[...], reference[f"features/{LITE}"][...]
        cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        assert cosine.min() >= 0.9999


def test_a_service_restarted_with_other_weights_fails_the_slide(
    tmp_path: Path, synthetic_slide
) -> None:
    weights = tmp_path / "weights"
    weights.mkdir()
    state = torch.load(resolve_weights(EncoderRegistry().spec(LITE)).path, weights_only=True)
    first_key = next(iter(state))
    state[first_key] = state[first_key] * 1.5  # a fine-tuned copy, say
    torch.save(state, weights / f"{LITE}.pth")

    result, _ = _restarted_mid_run(tmp_path, synthetic_slide.path, weights_dir=weights)
    assert result.exit_code == 1
    assert f"now computes {LITE} in float32 with weights" in result.output
    assert "this run began with it in float32 with weights" in result.output
    assert not (tmp_path / "run/patches/synthetic-40x.h5").exists()
