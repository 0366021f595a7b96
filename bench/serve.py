"""The encoder service against in-process encoding, and behind Triton; same machine, same
run; prints JSON.

    .venv/bin/python bench/serve.py [--encoder efficientnet_lite0] [--patches 512] [--no-triton]

Starts `atlaspatch serve encoder` (its own batcher, max batch = --batch) as a separate process
on 127.0.0.1; then the nvidia-pytriton tritonserver with an exported repository (max batch =
--batch, 5 ms queue delay, Python backend, CPU) and a second `serve encoder --backend triton`
in front of it. For each: patches/s with one client (4 requests in flight, against in
process), and with 1, 4 and 16 concurrent clients sending requests of 4 patches, aggregate
patches/s and executions (forward passes) per request: from the service's /metrics for its
own batcher, from Triton's statistics API for Triton. Also bytes on the wire per patch.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from local_service import free_port, wait_until_serving  # noqa: E402
from machine import describe_machine  # noqa: E402

from atlaspatch.api import wire  # noqa: E402
from atlaspatch.api.v1 import encoder_pb2  # noqa: E402
from atlaspatch.client.channel import Endpoint  # noqa: E402
from atlaspatch.client.remote import RemoteEncoders  # noqa: E402
from atlaspatch.encoder_service.registry import EncoderRegistry  # noqa: E402
from atlaspatch.encoder_service.triton.export import TritonExport, export_encoders  # noqa: E402
from atlaspatch.encoder_service.triton.forward import TritonEncoders  # noqa: E402
from tests.local_triton import LocalTriton, triton_env_ready  # noqa: E402


def batches_done(metrics_port: int) -> int:
    """Forward passes the service's own batcher has run (from its /metrics)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics").read().decode()
    found = re.search(r"^atlaspatch_batch_patches_count{[^}]*} ([0-9.e+]+)$", text, re.M)
    return int(float(found.group(1))) if found else 0


def start_service(port: int, *options: str) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "atlaspatch.orchestrator.cli",
        "serve",
        "encoder",
        "--port",
        str(port),
    ]
    service = subprocess.Popen([*command, *options], stderr=subprocess.DEVNULL)
    wait_until_serving(f"127.0.0.1:{port}")
    return service


def one_client(address: str, encoder: str, batch: np.ndarray, rounds: int) -> float:
    client = RemoteEncoders(Endpoint.parse(address), [encoder], in_flight=4)
    client.embed(batch[:2])
    start = time.perf_counter()
    for future in [client.submit(batch) for _ in range(rounds)]:
        future.result()
    return rounds * len(batch) / (time.perf_counter() - start)


class InProcess:
    """The same batches embedded in this process: the reference for the services."""

    def __init__(self, name: str, batch: np.ndarray, rounds: int):
        self.encoder = EncoderRegistry().create(name, "cpu", "float32")
        self.batch, self.rounds = torch.from_numpy(batch), rounds
        self.encoder.embed(self.batch[:2])

    def patches_per_second(self) -> float:
        start = time.perf_counter()
        for _ in range(self.rounds):
            self.encoder.embed(self.batch)
        return self.rounds * len(self.batch) / (time.perf_counter() - start)


def many_clients(
    address: str, encoder: str, small: np.ndarray, patches: int, executions: Callable[[], int]
) -> dict[str, dict[str, float]]:
    figures = {}
    for clients in (1, 4, 16):
        each = max(1, patches // len(small) // clients)
        client = RemoteEncoders(Endpoint.parse(address), [encoder], in_flight=1)
        before = executions()
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(
                pool.map(
                    lambda _, c=client, n=each: [c.embed(small) for _ in range(n)], range(clients)
                )
            )
        seconds = time.perf_counter() - start
        runs, requests = executions() - before, clients * each
        figures[str(clients)] = {
            "patches_per_second": round(requests * len(small) / seconds, 1),
            "executions_per_request": round(runs / requests, 3),
            "mean_batch_patches": round(requests * len(small) / max(1, runs), 1),
        }
    return figures


def measure(
    address: str, args: argparse.Namespace, batch: np.ndarray, in_process: InProcess, executions
) -> dict:
    # This machine's speed drifts between runs: alternate in process and through the service
    # and compare medians.
    pairs = [
        (
            in_process.patches_per_second(),
            one_client(address, args.encoder, batch, in_process.rounds),
        )
        for _ in range(3)
    ]
    here, through = (statistics.median(column) for column in zip(*pairs, strict=True))
    return {
        "in_process_patches_per_second": round(here, 1),
        "one_client_patches_per_second": round(through, 1),
        "vs_in_process": round(through / here, 3),
        "concurrent_clients_requests_of_4_patches": many_clients(
            address, args.encoder, batch[:4], args.patches, executions
        ),
    }


def own_batcher(args: argparse.Namespace, batch: np.ndarray, in_process: InProcess) -> dict:
    port, metrics_port = free_port(), free_port()
    # Max batch = the client's batch: the same forward passes as in process.
    service = start_service(
        port, "--metrics-port", str(metrics_port), "--device", "cpu",
        "--encoders", args.encoder, "--max-batch-size", str(args.batch),
        "--max-queue-delay-ms", "5",
    )  # fmt: skip
    try:
        return measure(
            f"127.0.0.1:{port}", args, batch, in_process, lambda: batches_done(metrics_port)
        )
    finally:
        service.terminate()
        service.wait(timeout=60)


def behind_triton(args: argparse.Namespace, batch: np.ndarray, in_process: InProcess) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        repository = Path(folder) / "models"
        export = TritonExport(max_batch_size=args.batch, max_queue_delay_us=5000)
        export_encoders(EncoderRegistry(), [args.encoder], repository, export)
        with LocalTriton(repository, Path(folder) / "tritonserver.log") as triton:
            port = free_port()
            service = start_service(
                port, "--backend", "triton", "--triton-url", triton.url,
                "--encoders", args.encoder,
            )  # fmt: skip
            stats = TritonEncoders(triton.url, EncoderRegistry())
            try:
                return measure(
                    f"127.0.0.1:{port}",
                    args,
                    batch,
                    in_process,
                    lambda: stats.statistics(args.encoder)[1],
                )
            finally:
                service.terminate()
                service.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--encoder", default="efficientnet_lite0")
    parser.add_argument("--patches", type=int, default=512)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--no-triton", action="store_true", help="Skip the Triton path.")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 255, (args.batch, 256, 256, 3), dtype=np.uint8)
    rounds = max(1, args.patches // args.batch)

    in_process = InProcess(args.encoder, batch, rounds)
    dim = in_process.encoder.embedding_dim

    figures = {"service": own_batcher(args, batch, in_process)}
    if args.no_triton:
        pass
    elif triton_env_ready():
        figures["triton"] = behind_triton(args, batch, in_process)
    else:
        figures["triton"] = {"skipped": "no .venv-triton: run `make triton-env`"}

    request = encoder_pb2.EmbedRequest(
        encoders=[args.encoder], patches=wire.patches_to_proto(batch)
    )
    response = encoder_pb2.EmbedResponse(
        embeddings=[wire.embedding_to_proto(args.encoder, np.zeros((args.batch, dim), np.float32))]
    )
    print(
        json.dumps(
            {
                "machine": describe_machine(),
                "encoder": args.encoder,
                "device": "cpu",
                "precision": "float32",
                "patch": 256,
                **figures,
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
