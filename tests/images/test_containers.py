"""The built images run: the two services become healthy by the image's own HEALTHCHECK, and the
orchestrator image's `process` through them writes what one process writes on this machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.images import podman as pm
from tests.images.conftest import FIGURES, PROCESS_OPTIONS, writable_output
from tests.output_helpers import assert_same_result

SERVICES = {"segmenter": 50052, "encoder": 50051}


@pytest.fixture(scope="module")
def services(images: dict[str, str], network: str) -> dict[str, str]:
    """Both services on the CPU; their URLs inside the network."""
    urls = {}
    for name, port in SERVICES.items():
        container = f"atlaspatch-image-tests-{name}"
        pm.podman(
            "run", "-d", "--name", container, "--label", pm.LABEL, "--network", network,
            "--env", f"ATLASPATCH_PORT={port}", "--env", "ATLASPATCH_DEVICE=cpu",
            "--env", "ATLASPATCH_TISSUE_MODEL=otsu",
            "--env", "ATLASPATCH_ENCODERS=efficientnet_lite0",
            images["services"], name,
        )  # fmt: skip
        urls[name] = f"{container}:{port}"
    for name in SERVICES:
        seconds = pm.wait_healthy(f"atlaspatch-image-tests-{name}")
        FIGURES[f"container_{name}_healthy_seconds"] = round(seconds, 1)
    return urls


def test_services_become_healthy_by_their_own_healthcheck(services: dict[str, str]) -> None:
    for name in SERVICES:
        container = f"atlaspatch-image-tests-{name}"
        # The image's check, not ours: the one docker and podman run on their schedule.
        check = pm.podman("inspect", "--format", "{{json .Config.Healthcheck.Test}}", container)
        assert "serve" in check.stdout and "health" in check.stdout
        assert pm.podman("healthcheck", "run", container).returncode == 0
        user = pm.podman("exec", container, "id", "-u").stdout.strip()
        assert user == "10001", f"{name} runs as {user}"


def test_orchestrator_container_process_equals_in_process(
    images: dict[str, str],
    network: str,
    services: dict[str, str],
    slides: Path,
    in_process_h5: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    out = writable_output(tmp_path_factory, "orchestrator-out")
    pm.podman(
        "run", "--rm", "--label", pm.LABEL, "--network", network,
        "--volume", f"{slides}:/slides:ro", "--volume", f"{out}:/output",
        images["orchestrator"], "process", "/slides", "--output", "/output", *PROCESS_OPTIONS,
        "--segmenter-url", services["segmenter"], "--encoder-url", services["encoder"],
        timeout=900,
    )  # fmt: skip
    assert_same_result(out / "patches" / in_process_h5.name, in_process_h5)


def test_the_orchestrator_image_is_the_client_alone(images: dict[str, str]) -> None:
    size = pm.image_size(images["orchestrator"])
    FIGURES["orchestrator_bytes"] = size
    # The client's libraries (OpenCV alone is 160 MB), pruned (prune-client.sh), on the test's
    # Debian base; with the services' libraries it was 6.7 GB.
    assert size < 600e6, f"the orchestrator image is {size / 1e6:.0f} MB"
    found = pm.podman(
        "run", "--rm", "--label", pm.LABEL, "--entrypoint", "python3", images["orchestrator"],
        "-c", "import importlib.util as u; print([m for m in ('torch', 'timm', 'sam2')"
        " if u.find_spec(m)])",
    ).stdout  # fmt: skip
    assert found.strip() == "[]"


def test_torch_comes_in_layers_of_at_most_1_3_gb(images: dict[str, str]) -> None:
    # One 6 GB layer took 24 GiB of disk to build (two temporary copies) and pulls in one piece.
    sizes = pm.layer_sizes(images["services"])
    FIGURES["layer_bytes"] = sizes
    FIGURES["largest_layer_bytes"] = max(sizes)
    assert sum(sizes) > 5e9, "expected torch's CUDA build"
    assert max(sizes) < 1.3e9, f"layers of {[round(s / 1e9, 2) for s in sizes]} GB"


@pytest.mark.parametrize("name", ["services", "orchestrator"])
def test_images_carry_no_build_tools_sources_or_caches(images: dict[str, str], name: str) -> None:
    leftovers = [
        "import glob, shutil",
        "print([t for t in ('cc', 'gcc', 'g++', 'make') if shutil.which(t)]"
        " + glob.glob('/root/.cache/*') + glob.glob('/tmp/*') + glob.glob('/src'))",
    ]
    found = pm.podman(
        "run", "--rm", "--label", pm.LABEL, "--entrypoint", "python3", "--user", "0",
        images[name], "-c", "; ".join(leftovers),
    ).stdout  # fmt: skip
    assert found.strip() == "[]", f"{name} carries {found}"
