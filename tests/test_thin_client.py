"""The CLI against services runs without the services' libraries: a process that cannot import
torch, timm, SAM2 (nor transformers, open_clip) writes the same HDF5 through the services as
the in-process run, and asked to run a model itself it says what to install instead."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np

from atlaspatch.api.hosting.server import ServerSettings
from atlaspatch.client.in_process import SERVICE_LIBRARIES
from atlaspatch.segmenter_service.server import segmenter_server
from tests.background_server import BackgroundServer
from tests.cli import COMMON, process_run
from tests.output_helpers import assert_same_result, slide_h5
from tests.service_helpers import start_encoder

# The CLI with the services' libraries missing; every attempt to import one is written down.
WITHOUT_LIBRARIES = """
import sys

class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {libraries!r}:
            with open({attempts!r}, "a") as attempts:
                attempts.write(name + "\\n")
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

sys.meta_path.insert(0, Missing())
from atlaspatch.orchestrator.cli import main

main(sys.argv[1:], prog_name="atlaspatch")
"""


def without_libraries(tmp_path: Path, *args: str | Path) -> tuple[subprocess.CompletedProcess, str]:
    attempts = tmp_path / "attempts.txt"
    attempts.touch()
    script = WITHOUT_LIBRARIES.format(libraries=sorted(SERVICE_LIBRARIES), attempts=str(attempts))
    run = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    return run, attempts.read_text()


def test_process_through_services_never_imports_their_libraries(
    tmp_path: Path, synthetic_slide
) -> None:
    with (
        BackgroundServer(lambda: segmenter_server(ServerSettings(), "otsu")) as segmenter,
        start_encoder() as encoder,
    ):
        remote, attempts = without_libraries(
            tmp_path, "process", synthetic_slide.path, "-o", tmp_path / "remote", *COMMON,
            "--feature-batch-size", "8", "--feature-extractors", "efficientnet_lite0",
            "--segmenter-url", segmenter.address, "--encoder-url", encoder.address,
        )  # fmt: skip
        assert remote.returncode == 0, remote.stderr
        assert attempts == ""
        local = process_run(
            synthetic_slide.path, tmp_path / "local", "--feature-extractors", "efficientnet_lite0"
        )
        assert local.exit_code == 0, local.output
        assert_same_result(slide_h5(tmp_path / "remote"), slide_h5(tmp_path / "local"))

        # A slide encoder on the service too: the mean of the features, still without torch.
        slide, attempts = without_libraries(
            tmp_path, "encode-slide", synthetic_slide.path, "-o", tmp_path / "remote", *COMMON,
            "--slide-encoders", "mean", "--mean-patch-encoder", "efficientnet_lite0",
            "--segmenter-url", segmenter.address, "--encoder-url", encoder.address,
        )  # fmt: skip
        assert slide.returncode == 0, slide.stderr
        assert attempts == ""
        with h5py.File(slide_h5(tmp_path / "remote")) as h5:
            expected = h5["features/efficientnet_lite0"][...].astype(np.float64).mean(axis=0)
            np.testing.assert_allclose(h5["slide_features/mean"][...], expected, rtol=1e-5)


def test_coordinates_with_otsu_need_no_model_libraries(tmp_path: Path, synthetic_slide) -> None:
    run, attempts = without_libraries(
        tmp_path, "segment-and-get-coords", synthetic_slide.path, "-o", tmp_path / "out",
        "--patch-size", "256", "--target-mag", "20", "--tissue-model", "otsu",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert attempts == ""
    with h5py.File(slide_h5(tmp_path / "out")) as h5:
        assert len(h5["coords"]) > 0


def test_a_model_in_process_without_its_libraries_says_what_to_install(
    tmp_path: Path, synthetic_slide
) -> None:
    run, attempts = without_libraries(
        tmp_path, "process", synthetic_slide.path, "-o", tmp_path / "out", *COMMON,
        "--feature-extractors", "efficientnet_lite0",
    )  # fmt: skip
    assert run.returncode == 1
    assert "pip install 'atlaspatch[services]'" in run.stderr
    assert "--encoder-url URL" in run.stderr
    assert "Traceback" not in run.stderr
    assert attempts.split()[0] == "torch"
