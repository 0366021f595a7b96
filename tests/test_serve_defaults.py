"""Each service has its own default port (encoder 50051, segmenter 50052, as compose, the chart
and the SLURM script use them), so that both start on one host with no --port at all."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from atlaspatch.orchestrator.cli.serve import ENCODER_PORT, SEGMENTER_PORT

SERVE = [sys.executable, "-m", "atlaspatch.orchestrator.cli", "serve"]


def _serving_line(process: subprocess.Popen, deadline: float) -> str:
    assert process.stderr is not None
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if "serving on" in line or not line:
            return line
    return ""


def test_both_services_start_side_by_side_without_a_port() -> None:
    assert (ENCODER_PORT, SEGMENTER_PORT) == (50051, 50052)
    started = {
        SEGMENTER_PORT: subprocess.Popen(
            [*SERVE, "segmenter", "--tissue-model", "otsu", "--device", "cpu"],
            stderr=subprocess.PIPE,
            text=True,
        ),
        ENCODER_PORT: subprocess.Popen(
            [*SERVE, "encoder", "--encoders", "efficientnet_lite0", "--device", "cpu"],
            stderr=subprocess.PIPE,
            text=True,
        ),
    }
    try:
        deadline = time.monotonic() + 120
        for port, process in started.items():
            line = _serving_line(process, deadline)
            if f"127.0.0.1:{port}" not in line:
                pytest.fail(f"expected a service on {port} (is the port taken?): {line!r}")
        for port in started:
            health = subprocess.run(
                [*SERVE, "health", f"127.0.0.1:{port}"], capture_output=True, text=True
            )
            assert health.returncode == 0, health.stdout + health.stderr
    finally:
        for process in started.values():
            process.terminate()
            process.wait(timeout=30)
