"""Starting our services as separate processes on 127.0.0.1, for the benchmarks."""

from __future__ import annotations

import socket
import time

from atlaspatch.client.health import serving_status


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(address: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if serving_status(address, timeout=2) == "SERVING":
            return
        time.sleep(0.5)
    raise TimeoutError(f"no service at {address}")
