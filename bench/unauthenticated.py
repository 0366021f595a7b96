"""What unauthenticated callers can make a service hold: concurrent Embed requests without the
token, each carrying a batch of pixels, against an encoder service started with --token.
Prints JSON: the statuses, and the service's peak resident memory (VmHWM) before and after.

    .venv/bin/python bench/unauthenticated.py [--callers 4] [--patches 1024]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402
import numpy as np  # noqa: E402
from local_service import free_port, wait_until_serving  # noqa: E402
from machine import describe_machine  # noqa: E402
from rss import peak_rss_mib  # noqa: E402

from atlaspatch.api import wire  # noqa: E402
from atlaspatch.api.v1 import encoder_pb2, encoder_pb2_grpc  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--callers", type=int, default=4)
    parser.add_argument("--patches", type=int, default=1024, help="of 256 px: 1,024 is 201 MB")
    args = parser.parse_args()
    port = free_port()
    service = subprocess.Popen(
        [
            sys.executable, "-m", "atlaspatch.orchestrator.cli",
            "serve", "encoder", "--port", str(port),
            "--encoders", "efficientnet_lite0", "--token", "bench", "--grace-seconds", "0",
        ],
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    address = f"127.0.0.1:{port}"
    try:
        wait_until_serving(address)
        idle = peak_rss_mib(service.pid)
        patches = np.zeros((args.patches, 256, 256, 3), np.uint8)
        request = encoder_pb2.EmbedRequest(
            encoders=["efficientnet_lite0"], patches=wire.patches_to_proto(patches)
        )
        channel = grpc.insecure_channel(address, [("grpc.max_send_message_length", 2**31 - 1)])
        embed = encoder_pb2_grpc.EncoderStub(channel).Embed

        def call(_: int) -> str:
            try:
                embed(request, timeout=120)
                return "OK"
            except grpc.RpcError as error:
                return error.code().name  # type: ignore[attr-defined]

        with ThreadPoolExecutor(args.callers) as pool:
            statuses = list(pool.map(call, range(args.callers)))
        after = peak_rss_mib(service.pid)
    finally:
        service.terminate()
        service.wait(60)
    print(
        json.dumps(
            {
                "machine": describe_machine(),
                "callers": args.callers,
                "request_bytes": request.ByteSize(),
                "statuses": statuses,
                "service_peak_rss_mib_idle": round(idle, 1),
                "service_peak_rss_mib_after": round(after, 1),
                "grown_mib": round(after - idle, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
