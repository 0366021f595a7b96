"""The encoder service against in-process encoding, same machine; prints JSON.

    .venv/bin/python bench/serve.py [--encoder efficientnet_lite0] [--patches 512]

Starts `atlaspatch serve encoder` (max batch = --batch) as a separate process on 127.0.0.1,
then measures: patches/s in process and through the service (one client, 4 requests in
flight), aggregate patches/s with 1, 4 and 16 concurrent clients sending small requests, the
mean batch the service achieved (from its /metrics), and bytes on the wire per patch.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402
from machine import describe_machine  # noqa: E402

from client import wire  # noqa: E402
from client.channel import Endpoint  # noqa: E402
from client.pb import encoder_pb2  # noqa: E402
from client.remote import RemoteEncoders  # noqa: E402
from encoder_service.registry import EncoderRegistry  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(address: str, timeout: float = 120) -> None:
    health = health_pb2_grpc.HealthStub(grpc.insecure_channel(address))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if health.Check(health_pb2.HealthCheckRequest(), timeout=2).status == 1:
                return
        except grpc.RpcError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"no service at {address}")


def batch_means(metrics_port: int) -> tuple[float, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics").read().decode()

    def value(name: str) -> float:
        found = re.search(rf"^{name}{{[^}}]*}} ([0-9.e+]+)$", text, re.M)
        return float(found.group(1)) if found else 0.0

    return value("atlaspatch_batch_patches_sum"), value("atlaspatch_batch_patches_count")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--encoder", default="efficientnet_lite0")
    parser.add_argument("--patches", type=int, default=512)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 255, (args.batch, 256, 256, 3), dtype=np.uint8)
    rounds = max(1, args.patches // args.batch)

    encoder = EncoderRegistry().create(args.encoder, "cpu", "float32")
    encoder.embed(torch.from_numpy(batch[:2].copy()))
    start = time.perf_counter()
    for _ in range(rounds):
        encoder.embed(torch.from_numpy(batch))
    in_process = rounds * args.batch / (time.perf_counter() - start)
    del encoder

    port, metrics_port = free_port(), free_port()
    service = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator.cli",
            "serve",
            "encoder",
            "--port",
            str(port),
            "--metrics-port",
            str(metrics_port),
            "--device",
            "cpu",
            "--encoders",
            args.encoder,
            "--max-batch-size",  # the client's batch: the same forward passes as in process
            str(args.batch),
            "--max-queue-delay-ms",
            "5",
        ],
        stderr=subprocess.DEVNULL,
    )
    try:
        address = f"127.0.0.1:{port}"
        wait_until_serving(address)
        client = RemoteEncoders(Endpoint.parse(address), [args.encoder], in_flight=4)
        client.embed(batch[:2])
        start = time.perf_counter()
        futures = [client.submit(batch) for _ in range(rounds)]
        for future in futures:
            future.result()
        through_service = rounds * args.batch / (time.perf_counter() - start)

        concurrency = {}
        small = batch[:4]
        for clients in (1, 4, 16):
            sum_before, count_before = batch_means(metrics_port)
            each = max(1, args.patches // len(small) // clients)
            one = RemoteEncoders(Endpoint.parse(address), [args.encoder], in_flight=1)
            start = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                list(
                    pool.map(
                        lambda _, c=one, n=each: [c.embed(small) for _ in range(n)], range(clients)
                    )
                )
            seconds = time.perf_counter() - start
            sum_after, count_after = batch_means(metrics_port)
            concurrency[str(clients)] = {
                "patches_per_second": round(clients * each * len(small) / seconds, 1),
                "mean_batch_patches": round(
                    (sum_after - sum_before) / max(1, count_after - count_before), 1
                ),
            }
    finally:
        service.terminate()
        service.wait(timeout=60)

    request = encoder_pb2.EmbedRequest(
        encoders=[args.encoder], patches=wire.patches_to_proto(batch)
    )
    response = encoder_pb2.EmbedResponse(
        embeddings=[wire.embedding_to_proto(args.encoder, np.zeros((args.batch, 1280), np.float32))]
    )
    print(
        json.dumps(
            {
                "machine": describe_machine(),
                "encoder": args.encoder,
                "device": "cpu",
                "precision": "float32",
                "patch": 256,
                "in_process_patches_per_second": round(in_process, 1),
                "service_patches_per_second": round(through_service, 1),
                "service_vs_in_process": round(through_service / in_process, 3),
                "concurrent_clients_requests_of_4_patches": concurrency,
                "bytes_on_wire_per_patch": {
                    "request": round(request.ByteSize() / args.batch),
                    "response": round(response.ByteSize() / args.batch),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
