"""Reuse is decided before any model is loaded: a rerun over finished slides builds no encoder
and no tissue model (and asks an encoder service once, not once a slide), and works where
their weights are gone (saying what it could not compare); a slide that needs a missing model
fails at once, naming it, and the others go on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from atlaspatch.api.hosting.server import ServerSettings
from atlaspatch.encoder_service.registry import EncoderRegistry
from atlaspatch.encoder_service.serving.server import encoder_server
from atlaspatch.segmenter_service import handler as segmenter_handler
from tests.background_server import BackgroundServer
from tests.cli import COMMON, atlaspatch
from tests.slide_encoder_helpers import add_feature_set, write_slides

SAM2 = ("--tissue-model", "sam2")


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, sam2_checkpoint: Path):
    """Slide a `process`ed with SAM2 (random weights) and efficientnet_lite0, and a feature
    set of resnet18 (whose weights are not here) added as if a run had written it."""
    root = tmp_path_factory.mktemp("rerun")
    slides, out = write_slides(root / "slides", ("a",)), root / "out"
    checkpoint = shutil.copy(sam2_checkpoint, root / "model.pth")
    result = atlaspatch(
        "process", slides, "-o", out, *COMMON, *SAM2, "--sam2-checkpoint", checkpoint,
        "--feature-extractors", "efficientnet_lite0",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    add_feature_set(out / "patches" / "a.h5", "resnet18", 512)
    return slides, out, Path(checkpoint)


@pytest.fixture
def nothing_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(EncoderRegistry, "create", refuse)
    monkeypatch.setattr(segmenter_handler, "build_segmenter_handler", refuse)


def test_a_rerun_over_finished_slides_loads_nothing(finished, nothing_loads) -> None:
    slides, out, checkpoint = finished
    again = atlaspatch(
        "process", slides, "-o", out, *COMMON, *SAM2, "--sam2-checkpoint", checkpoint,
        "--feature-extractors", "efficientnet_lite0",
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    assert "skipped  a.tiff: coordinates and features exist" in again.output


def test_a_rerun_on_an_encoder_service_asks_it_once(tmp_path: Path) -> None:
    slides, out = write_slides(tmp_path / "slides", ("a", "b", "c")), tmp_path / "out"
    build = lambda: encoder_server(  # noqa: E731
        ServerSettings(grace_seconds=0), EncoderRegistry(), ["efficientnet_lite0"], "cpu"
    )[0]
    with BackgroundServer(build) as service:
        run = ("process", slides, "-o", out, *COMMON, "--feature-extractors",
               "efficientnet_lite0", "--encoder-url", service.address)  # fmt: skip
        assert atlaspatch(*run).exit_code == 0
        loads = lambda: service.server.metrics.value(  # noqa: E731
            "atlaspatch_requests_total", method="Load", code="OK"
        )
        before = loads()
        again = atlaspatch(*run)
        assert again.exit_code == 0, again.output
        assert again.output.count("coordinates and features exist") == 3
        assert loads() - before == 1  # at the run's start; no slide's decision asked again


def test_a_rerun_without_the_weights_reuses_and_says_what_it_could_not_compare(
    finished, nothing_loads, tmp_path: Path
) -> None:
    slides, out, _ = finished
    gone = tmp_path / "gone.pth"  # the checkpoint is not there any more
    again = atlaspatch(
        "process", slides, "-o", out, *COMMON, *SAM2, "--sam2-checkpoint", gone,
        "--feature-extractors", "efficientnet_lite0,resnet18",
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    assert "skipped  a.tiff: coordinates and features exist; not compared with" in again.output
    assert "the tissue model" in again.output and "resnet18" in again.output


def test_a_slide_that_needs_a_missing_model_fails_at_once(
    finished, nothing_loads, tmp_path: Path
) -> None:
    slides, out, checkpoint = finished
    more = tmp_path / "slides"
    shutil.copytree(slides, more)
    write_slides(more, ("b",))  # not processed yet: it needs resnet18, whose weights are gone
    run = atlaspatch(
        "process", more, "-o", out, *COMMON, *SAM2, "--sam2-checkpoint", checkpoint,
        "--feature-extractors", "efficientnet_lite0,resnet18",
    )  # fmt: skip
    assert run.exit_code == 1
    assert "skipped  a.tiff: coordinates and features exist" in run.output
    assert (
        "FAILED   b.tiff: its features cannot be computed here: no weights for encoder 'resnet18'"
        in run.output
    )
    assert not (out / "patches" / "b.h5").exists()
