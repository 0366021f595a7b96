"""A bounded load test: many clients against one encoder service for a fixed time; prints
JSON with requests, errors by status, patches per second, latency percentiles and the
service's resident memory over the run.

    .venv/bin/python bench/load.py [--clients 32] [--seconds 60] [--patches-per-request 8]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402
import numpy as np  # noqa: E402
from local_service import free_port, wait_until_serving  # noqa: E402
from machine import describe_machine  # noqa: E402
from rss import RssSampler  # noqa: E402

from atlaspatch_api import wire  # noqa: E402
from atlaspatch_api.v1 import encoder_pb2, encoder_pb2_grpc  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--patches-per-request", type=int, default=8)
    parser.add_argument("--encoder", default="efficientnet_lite0")
    args = parser.parse_args()
    port = free_port()
    service = subprocess.Popen(
        [
            sys.executable, "-m", "orchestrator.cli", "serve", "encoder", "--port", str(port),
            "--device", "cpu", "--encoders", args.encoder, "--max-batch-size", "32",
        ],
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    address = f"127.0.0.1:{port}"
    try:
        wait_until_serving(address)
        rng = np.random.default_rng(0)
        patches = rng.integers(0, 255, (args.patches_per_request, 224, 224, 3), dtype=np.uint8)
        request = encoder_pb2.EmbedRequest(
            encoders=[args.encoder], patches=wire.patches_to_proto(patches)
        )
        codes: Counter[str] = Counter()
        latencies: list[float] = []
        guard = threading.Lock()
        deadline = time.monotonic() + args.seconds
        sampler = RssSampler(service.pid, interval=1.0)

        def client() -> None:
            stub = encoder_pb2_grpc.EncoderStub(grpc.insecure_channel(address))
            while time.monotonic() < deadline:
                start = time.monotonic()
                try:
                    stub.Embed(request, timeout=120)
                    code = "OK"
                except grpc.RpcError as error:
                    code = error.code().name  # type: ignore[attr-defined]
                with guard:
                    codes[code] += 1
                    latencies.append(time.monotonic() - start)

        started = time.monotonic()
        with ThreadPoolExecutor(args.clients) as pool:
            for future in [pool.submit(client) for _ in range(args.clients)]:
                future.result()
        elapsed = time.monotonic() - started
        samples = sampler.stop()
    finally:
        service.terminate()
        service.wait(timeout=60)
    latencies.sort()
    third = len(samples) // 3
    print(
        json.dumps(
            {
                "machine": describe_machine(),
                "encoder": args.encoder,
                "clients": args.clients,
                "seconds": round(elapsed, 1),
                "patches_per_request": args.patches_per_request,
                "requests_by_status": dict(codes),
                "errors": sum(n for code, n in codes.items() if code != "OK"),
                "patches_per_second": round(codes["OK"] * args.patches_per_request / elapsed, 1),
                "latency_seconds_p50_p95_p99": [
                    round(latencies[int(q * (len(latencies) - 1))], 3) for q in (0.5, 0.95, 0.99)
                ],
                "service_rss_mib_first_third_max": round(max(m for _, m in samples[:third]), 1),
                "service_rss_mib_last_third_max": round(max(m for _, m in samples[-third:]), 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
