"""Slide encoders on the service against in process: one large slide's patch features (by
default 50,000 patches of 1,536-d, UNI2-h's width: 307 MB) embedded by the weight-free mean
pool, so that what is measured is the wire, not a model. Also measured in the same run: the
protocol's own cost (cutting the features into messages, serialising, parsing and assembling
them, all in one process), the floor of any gRPC path. Prints JSON.

    python bench/slide_encoders.py [--patches 50000] [--dim 1536] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from local_service import free_port, wait_until_serving  # noqa: E402
from machine import describe_machine  # noqa: E402

from atlaspatch.api.slide_features import (  # noqa: E402
    PatchData,
    SlidesAssembly,
    request_messages,
)
from atlaspatch.api.v1 import encoder_pb2  # noqa: E402
from atlaspatch.client.channel import Endpoint  # noqa: E402
from atlaspatch.client.remote_slides import RemoteSlideEncoders  # noqa: E402
from atlaspatch.client.slide_encoders import (  # noqa: E402
    local_slide_encoders,
    slide_encoder_facts,
)

PATCH_ENCODER = "uni_v2"


def timed(work, rounds: int) -> float:
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def protocol_only(slide: PatchData) -> None:
    asked = encoder_pb2.LoadSlideEncoderRequest(encoder="mean", patch_encoder=PATCH_ENCODER)
    messages = [
        encoder_pb2.EmbedSlidesRequest.FromString(message.SerializeToString())
        for message in request_messages(asked, [slide])
    ]
    assembly = SlidesAssembly(messages[0].start, patient=False)
    for message in messages[1:]:
        assembly.add(message.rows)
    assembly.slides()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patches", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=1536)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    features = rng.standard_normal((args.patches, args.dim)).astype(np.float32)
    xy = rng.integers(0, 200_000, (args.patches, 2))
    slide = PatchData("bench", features, xy, 224, 448, 20.0)
    facts = slide_encoder_facts("mean").reading(PATCH_ENCODER)
    megabytes = slide.nbytes / 1e6

    here = local_slide_encoders()
    expected = here.encode(facts, [slide])
    in_process = timed(lambda: here.encode(facts, [slide]), args.rounds)
    floor = timed(lambda: protocol_only(slide), args.rounds)

    port = free_port()
    service = subprocess.Popen(
        [
            sys.executable, "-m", "atlaspatch.orchestrator.cli", "serve", "encoder",
            "--encoders", "efficientnet_lite0", "--device", "cpu", "--host", "127.0.0.1",
            "--port", str(port), "--max-decoded-mib", str(int(megabytes * 2) + 64),
        ],
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until_serving(f"127.0.0.1:{port}")
        remote = RemoteSlideEncoders(Endpoint.parse(f"127.0.0.1:{port}"))
        remote.load(facts)
        same = bool(np.array_equal(remote.encode(facts, [slide]), expected))
        through_service = timed(lambda: remote.encode(facts, [slide]), args.rounds)
    finally:
        service.terminate()
        service.wait(timeout=60)

    print(
        json.dumps(
            {
                "machine": describe_machine(),
                "patches": args.patches,
                "dim": args.dim,
                "features_mb": round(megabytes, 1),
                "in_process_seconds": round(in_process, 3),
                "protocol_floor_seconds": round(floor, 3),
                "through_service_seconds": round(through_service, 3),
                "through_service_mb_per_s": round(megabytes / through_service, 1),
                "service_over_in_process_plus_floor": round(
                    through_service / (in_process + floor), 2
                ),
                "same_embedding": same,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
