"""A bounded load test: well-behaved clients against one encoder service for a fixed time,
first alone ("calm"), then beside hostile clients ("hostile"): requests of 1,024 tiny patches,
the encoder's name repeated 4,096 times, requests whose deadline passes while queued, tiles
that lie about their size (bench/hostile_tiles.py), placement bombs, and concurrent Loads of
encoders whose weights only the hub has (the service may fetch them: the worst case).
Prints JSON: each phase's requests by status, patches per second and latency percentiles of
the well-behaved clients, their p99 ratio (target: at most 1.5), and the service's peak
resident memory against a budget (target: under it). A few seconds of both kinds of traffic
come first and are not counted, so that neither phase pays for the service's first passes
(CUDA's start-up, the kernels each new batch shape picks).

    .venv/bin/python bench/load.py [--clients 16] [--seconds 30] [--hostile-clients 3]
        [--patches-per-request 8] [--rss-budget-mib 3072]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402
import hostile_tiles  # noqa: E402
import numpy as np  # noqa: E402
from local_service import free_port, wait_until_serving  # noqa: E402
from machine import describe_machine  # noqa: E402
from rss import RssSampler  # noqa: E402

from atlaspatch.api import wire  # noqa: E402
from atlaspatch.api.v1 import encoder_pb2, encoder_pb2_grpc  # noqa: E402

BIG_MESSAGES = [("grpc.max_receive_message_length", 64 * 2**20)]


def request(encoders: list[str], patches: np.ndarray) -> encoder_pb2.EmbedRequest:
    return encoder_pb2.EmbedRequest(encoders=encoders, patches=wire.patches_to_proto(patches))


# Gated hub models: on a machine without their weights each Load waits on the hub.
HUB_ONLY = ("uni_v1", "h_optimus_0", "virchow_v2", "prov_gigapath", "conch_v1", "phikon_v2")


def hostile_requests(encoder: str) -> list[tuple[str, str, object, float]]:
    """(kind, method, request, timeout): what an attacker or a buggy client sends, in turn."""
    rng = np.random.default_rng(1)
    tiny = rng.integers(0, 255, (1024, 16, 16, 3), dtype=np.uint8)
    normal = rng.integers(0, 255, (64, 224, 224, 3), dtype=np.uint8)
    loads = [
        (f"hub_only_load_{name}", "Load", encoder_pb2.LoadRequest(encoders=[name]), 120.0)
        for name in HUB_ONLY[:2]
    ]
    return [
        ("oversized_count", "Embed", request([encoder], tiny), 600.0),
        ("repeated_names", "Embed", request([encoder] * 4096, normal[:1]), 60.0),
        ("expired_deadline", "Embed", request([encoder], normal), 0.05),
        ("tile_lie", "Embed", hostile_tiles.tile_lie(encoder), 60.0),
        ("tile_amplification", "Embed", hostile_tiles.tile_amplification(encoder), 60.0),
        ("placement_bomb", "Embed", hostile_tiles.placement_bomb(encoder), 60.0),
        ("grid_bomb", "Embed", hostile_tiles.grid_bomb(encoder), 120.0),
        *loads,
    ]


class Phase:
    """Clients calling in a loop until a deadline, their outcomes counted by status."""

    def __init__(self) -> None:
        self.codes: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()  # hostile requests by kind and status
        self.latencies: list[float] = []
        self.span = [float("inf"), 0.0]  # first call's start, last call's end
        self._guard = threading.Lock()

    def call(self, send: Callable[[], object], kind: str = "") -> None:
        start = time.monotonic()
        try:
            send()
            code = "OK"
        except grpc.RpcError as error:
            code = error.code().name  # type: ignore[attr-defined]
        end = time.monotonic()
        with self._guard:
            self.codes[code] += 1
            if kind:
                self.kinds[f"{kind}: {code}"] += 1
            self.latencies.append(end - start)
            self.span = [min(self.span[0], start), max(self.span[1], end)]

    def summary(self, patches_per_request: int) -> dict:
        latencies = sorted(self.latencies)
        seconds = self.span[1] - self.span[0]
        return {
            "seconds": round(seconds, 1),
            "requests_by_status": dict(self.codes),
            "patches_per_second": round(self.codes["OK"] * patches_per_request / seconds, 1),
            "latency_seconds_p50_p95_p99": [
                round(latencies[int(q * (len(latencies) - 1))], 3) for q in (0.5, 0.95, 0.99)
            ],
        }


def run_phase(
    address: str, args: argparse.Namespace, hostile: int, seconds: float
) -> tuple[Phase, Phase]:
    rng = np.random.default_rng(0)
    patches = rng.integers(0, 255, (args.patches_per_request, 224, 224, 3), dtype=np.uint8)
    polite = request([args.encoder], patches)
    kinds = set(filter(None, args.hostile_kinds.split(",")))
    attacks = [a for a in hostile_requests(args.encoder) if not kinds or a[0] in kinds]
    calm, wild = Phase(), Phase()
    deadline = time.monotonic() + seconds

    def polite_client() -> None:
        stub = encoder_pb2_grpc.EncoderStub(grpc.insecure_channel(address))
        while time.monotonic() < deadline:
            calm.call(lambda: stub.Embed(polite, timeout=120))

    def hostile_client(offset: int) -> None:
        stub = encoder_pb2_grpc.EncoderStub(grpc.insecure_channel(address, BIG_MESSAGES))
        turn = offset
        while time.monotonic() < deadline:
            kind, method, attack, timeout = attacks[turn % len(attacks)]
            send = getattr(stub, method)
            wild.call(lambda: send(attack, timeout=timeout), kind)  # noqa: B023
            turn += 1

    with ThreadPoolExecutor(args.clients + hostile) as pool:
        futures = [pool.submit(polite_client) for _ in range(args.clients)]
        futures += [pool.submit(hostile_client, i) for i in range(hostile)]
        for future in futures:
            future.result()
    return calm, wild


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--hostile-clients", type=int, default=3)
    parser.add_argument(
        "--hostile-kinds", default="", help="comma-separated kinds of the mix to send (all)"
    )
    parser.add_argument("--seconds", type=float, default=30, help="for each phase")
    parser.add_argument("--warm-up-seconds", type=float, default=5)
    parser.add_argument("--patches-per-request", type=int, default=8)
    parser.add_argument("--encoder", default="efficientnet_lite0")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--max-batch-size", type=int, default=32)
    parser.add_argument(
        "--rss-budget-mib",
        type=float,
        default=3072,
        help="the memory a deployment gives the service (its container's limit)",
    )
    args = parser.parse_args()
    port = free_port()
    service = subprocess.Popen(
        [
            sys.executable, "-m", "atlaspatch.orchestrator.cli",
            "serve", "encoder", "--port", str(port),
            "--device", args.device, "--encoders", args.encoder,
            "--max-batch-size", str(args.max_batch_size),
            "--loadable", ",".join(HUB_ONLY), "--allow-downloads",
        ],
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    address = f"127.0.0.1:{port}"
    try:
        wait_until_serving(address)
        sampler = RssSampler(service.pid, interval=0.25)
        run_phase(address, args, args.hostile_clients, args.warm_up_seconds)
        calm, _ = run_phase(address, args, 0, args.seconds)
        beside, hostile = run_phase(address, args, args.hostile_clients, args.seconds)
        samples = sampler.stop()
    finally:
        service.terminate()
        service.wait(timeout=60)
    calm_summary = calm.summary(args.patches_per_request)
    beside_summary = beside.summary(args.patches_per_request)
    ratio = beside_summary["latency_seconds_p50_p95_p99"][2] / max(
        calm_summary["latency_seconds_p50_p95_p99"][2], 1e-9
    )
    peak = max(mib for _, mib in samples)
    print(
        json.dumps(
            {
                "machine": describe_machine(),
                "encoder": args.encoder,
                "device": args.device,
                "max_batch_size": args.max_batch_size,
                "clients": args.clients,
                "hostile_clients": args.hostile_clients,
                "hostile_mix": args.hostile_kinds.split(",")
                if args.hostile_kinds
                else [kind for kind, *_ in hostile_requests(args.encoder)],
                "seconds_per_phase": args.seconds,
                "patches_per_request": args.patches_per_request,
                "calm": calm_summary,
                "beside_hostile": beside_summary,
                "hostile_requests_by_status": dict(hostile.codes),
                "hostile_requests_by_kind": dict(sorted(hostile.kinds.items())),
                "p99_ratio": round(ratio, 2),
                "p99_target_met": ratio <= 1.5,
                "service_peak_rss_mib": round(peak, 1),
                "rss_budget_mib": args.rss_budget_mib,
                "rss_target_met": peak < args.rss_budget_mib,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
