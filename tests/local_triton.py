"""The nvidia-pytriton wheel's tritonserver on 127.0.0.1, started through
deploy/triton/run-local.sh, for the tests and benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import tritonclient.grpc as triton
from tritonclient.utils import InferenceServerException

PROJECT = Path(__file__).resolve().parents[1]
RUN_LOCAL = PROJECT / "deploy" / "triton" / "run-local.sh"
TRITON_VENV = Path(os.environ.get("ATLASPATCH_TRITON_VENV", PROJECT / ".venv-triton"))


def triton_env_ready() -> bool:
    return (TRITON_VENV / "bin" / "python").exists()


class LocalTriton:
    def __init__(self, repository: Path, log: Path, startup_timeout: float = 300.0):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"127.0.0.1:{self.port}"
        self._log = log.open("wb")
        self._process = subprocess.Popen(
            [str(RUN_LOCAL), str(repository), str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.log_path = log
        try:
            self._wait_ready(startup_timeout)
        except BaseException:
            self.stop()
            raise

    def client(self) -> triton.InferenceServerClient:
        return triton.InferenceServerClient(self.url)

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._log.close()

    def _wait_ready(self, timeout: float) -> None:
        client = self.client()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"tritonserver exited; see {self.log_path}")
            try:
                if client.is_server_ready():
                    return
            except InferenceServerException:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"tritonserver not ready in {timeout:.0f} s; see {self.log_path}")

    def __enter__(self) -> LocalTriton:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
