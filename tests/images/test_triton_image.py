"""The Triton image, built on a Triton base made here from the nvidia-pytriton wheel (nvcr.io is
out of reach): it serves a repository from `atlaspatch export-triton`, becomes healthy by its
own HEALTHCHECK, and the encoder service forwarding to it gives the in-process features."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.deploy_helpers import REPO
from tests.images import podman as pm
from tests.images.conftest import FIGURES, PROCESS_OPTIONS, writable_output
from tests.output_helpers import assert_same_result

TRITON = "atlaspatch-image-tests-triton"


@pytest.fixture(scope="module")
def triton_image(base_image: str) -> str:
    server = f"{pm.PREFIX}/tritonserver-pytriton:0.7.0"
    seconds = pm.build("tritonserver.Dockerfile", server, {"BASE": base_image})
    FIGURES["tritonserver_base_build_seconds"] = round(seconds)
    FIGURES["tritonserver_base_bytes"] = pm.image_size(server)
    tag = f"{pm.PREFIX}/atlaspatch-triton:0.1.0"
    seconds = pm.build("triton.Dockerfile", tag, {"TRITON_BASE": server})
    FIGURES["triton_build_seconds"] = round(seconds)
    FIGURES["triton_bytes"] = pm.image_size(tag)
    return tag


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    folder.chmod(0o755)
    argv = [REPO / ".venv" / "bin" / "atlaspatch", "export-triton", "--encoders"]
    pm.run(*argv, "efficientnet_lite0", "--kind", "cpu", "--out", folder, timeout=600)
    subprocess.run(["chmod", "-R", "a+rX", str(folder)], check=True)
    return folder


def test_triton_image_serves_the_exported_encoder(
    triton_image: str,
    models: Path,
    images: dict[str, str],
    network: str,
    slides: Path,
    in_process_h5: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    pm.podman(
        "run", "-d", "--name", TRITON, "--label", pm.LABEL, "--network", network,
        "--shm-size=1g", "--volume", f"{models}:/models:ro", triton_image,
    )  # fmt: skip
    seconds = pm.wait_healthy(TRITON, timeout=600)
    FIGURES["triton_healthy_seconds"] = round(seconds, 1)

    encoder = "atlaspatch-image-tests-triton-encoder"
    pm.podman(
        "run", "-d", "--name", encoder, "--label", pm.LABEL, "--network", network,
        "--env", "ATLASPATCH_BACKEND=triton", "--env", f"ATLASPATCH_TRITON_URL={TRITON}:8001",
        "--env", "ATLASPATCH_ENCODERS=efficientnet_lite0", images["services"], "encoder",
    )  # fmt: skip
    pm.wait_healthy(encoder)

    out = writable_output(tmp_path_factory, "triton-out")
    pm.podman(
        "run", "--rm", "--label", pm.LABEL, "--network", network,
        "--volume", f"{slides}:/slides:ro", "--volume", f"{out}:/output",
        images["orchestrator"], "process", "/slides", "--output", "/output", *PROCESS_OPTIONS,
        "--encoder-url", f"{encoder}:50051",
        timeout=900,
    )  # fmt: skip
    assert_same_result(out / "patches" / in_process_h5.name, in_process_h5)
