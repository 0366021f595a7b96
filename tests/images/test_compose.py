"""deploy/compose.yaml with its CPU override, run by podman-compose as a user runs it: the two
services up, then the orchestrator's `process` over the slides folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.deploy_helpers import REPO
from tests.images import podman as pm
from tests.images.conftest import FIGURES, writable_output
from tests.output_helpers import assert_same_result

PROJECT = "atlaspatch-image-tests-compose"


@pytest.fixture(scope="module")
def compose(images: dict[str, str], slides: Path, tmp_path_factory: pytest.TempPathFactory):
    out = writable_output(tmp_path_factory, "compose-out")
    weights = tmp_path_factory.mktemp("compose-weights")
    weights.chmod(0o755)
    os.environ.update(
        SERVICES_IMAGE=images["services"],
        ORCHESTRATOR_IMAGE=images["orchestrator"],
        SLIDES_DIR=str(slides),
        OUTPUT_DIR=str(out),
        WEIGHTS_DIR=str(weights),
    )
    files = ["-f", REPO / "deploy" / "compose.yaml", "-f", REPO / "deploy" / "compose.cpu.yaml"]

    def run(*argv: str, timeout: float = 600):
        command = REPO / ".venv" / "bin" / "podman-compose"
        return pm.run(command, "--project-name", PROJECT, *files, *argv, timeout=timeout)

    try:
        yield run, out
    finally:
        run("down", "--timeout", "5")
        pm.remove_everything_labelled([f"{PROJECT}_default"])


def test_compose_stack_runs_process(compose, in_process_h5: Path) -> None:
    run, out = compose
    run("up", "-d", "segmenter", "encoder")
    for service in ("segmenter", "encoder"):
        seconds = pm.wait_healthy(f"{PROJECT}_{service}_1")
        FIGURES[f"compose_{service}_healthy_seconds"] = round(seconds, 1)
    # The orchestrator's command is the compose file's own, with its defaults.
    run("--profile", "run", "run", "--rm", "orchestrator", timeout=900)
    assert_same_result(out / "patches" / in_process_h5.name, in_process_h5)
