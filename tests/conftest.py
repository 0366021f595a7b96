"""Shared fixtures: the real slides in ../shared/data, synthetic slides, a SAM2 checkpoint."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests never reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# The shared helper modules keep pytest's detailed assertion messages.
pytest.register_assert_rewrite(
    "tests.deploy_helpers", "tests.output_helpers", "tests.process_helpers", "tests.service_helpers"
)

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ATLASPATCH_TEST_DATA", REPO.parent / "shared" / "data"))
SLIDES = DATA / "slides"
BAD = DATA / "bad"
TILES = DATA / "tiles"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not SLIDES.is_dir():
        skip = pytest.mark.skip(reason=f"shared test data not found at {DATA}")
        for item in items:
            if "shared_data" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def synthetic_slide(tmp_path_factory: pytest.TempPathFactory):
    """A 40x slide with levels 1, 4, 16 (no 20x level), tissue with holes, pens, debris."""
    from atlaspatch.orchestrator.synthetic import write_synthetic_slide

    folder = tmp_path_factory.mktemp("synthetic")
    return write_synthetic_slide(folder / "synthetic-40x.tiff", width=8000, height=6000, seed=0)


@pytest.fixture(scope="session")
def sam2_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised SAM2.1 Hiera-tiny checkpoint in AtlasPatch's format."""
    from tests.sam2_checkpoint import write_random_checkpoint

    return write_random_checkpoint(tmp_path_factory.mktemp("sam2") / "model.pth")


@pytest.fixture(scope="module")
def encoder_service():
    """The efficientnet_lite0 encoder service, shared by the tests of one module."""
    from tests.service_helpers import start_encoder

    with start_encoder(max_batch_size=64, max_queue_delay_ms=20) as server:
        yield server
