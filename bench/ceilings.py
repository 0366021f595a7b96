"""What the machine can do at best, for bench/throughput.py: decoding the patches' tiles on
all cores with nothing else running, and an encoder's forward passes on random input."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
from features import raw_decode_rate

from atlaspatch.api import wire
from atlaspatch.api.v1 import encoder_pb2

PLUGIN = Path(__file__).resolve().with_name("mean_colour_plugin.py")


def slide_patches(slides: Path, work: Path, env: dict[str, str]) -> tuple[Path, np.ndarray]:
    """The first slide and its patches' `coords` rows, as `segment-and-get-coords` finds them."""
    slide = sorted(slides.iterdir())[0]
    out = work / "coordinates"
    command = [
        sys.executable, "-m", "atlaspatch.orchestrator.cli", "segment-and-get-coords", str(slide),
        "-o", str(out), "--patch-size", "256", "--target-mag", "20", "--tissue-model", "otsu",
        "--device", "cpu",
    ]  # fmt: skip
    subprocess.run(command, env=env, check=True, capture_output=True)
    with h5py.File(out / "patches" / f"{slide.stem}.h5") as h5:
        return slide, h5["coords"][...]


def decode_ceiling(slide: Path, coords: np.ndarray) -> float:
    """Patches/s decoding the level-0 JPEG tiles under the patches, on every core."""
    cores = os.cpu_count() or 1
    return max(raw_decode_rate(slide, coords[:, :2], int(coords[0, 2]), cores) for _ in range(3))


def forward_ceiling(encoder: str, args: argparse.Namespace, seconds: float = 10.0) -> float:
    """Patches/s of the encoder alone on random 256 px patches, at the run's batch size."""
    from atlaspatch.client.encoder import local_encoders

    plugins = (PLUGIN,) if encoder == "mean_colour" else ()
    encoders = local_encoders(
        [encoder], args.device, args.precision, args.weights_dir, plugins, 4, args.batch
    )
    batch = np.random.default_rng(0).integers(0, 255, (args.batch, 256, 256, 3), dtype=np.uint8)
    encoders.embed(batch)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        encoders.embed(batch)  # returns on the host: the device has finished
        done += len(batch)
    return done / (time.perf_counter() - start)


def random_weights(encoders: list[str], folder: Path) -> None:
    """Weights of the real architecture, randomly initialised, for encoders that have none
    here (speed does not depend on the weights)."""
    import torch

    from atlaspatch.encoder_service.networks.build import build_network
    from atlaspatch.encoder_service.networks.weights import WeightsNotFound, resolve_weights
    from atlaspatch.encoder_service.registry import EncoderRegistry

    folder.mkdir(parents=True, exist_ok=True)
    registry = EncoderRegistry()
    for name in encoders:
        spec = registry.spec(name)
        if spec is None:
            continue
        try:
            resolve_weights(spec, folder, allow_download=False)
        except WeightsNotFound:
            torch.save(build_network(spec, None).state_dict(), folder / f"{name}.pth")


def wire_bytes_per_patch(slide: Path, coords: np.ndarray, batch: int) -> dict[str, float]:
    """Bytes of an Embed request per patch, raw pixels and the slide's own tiles."""
    from atlaspatch.orchestrator.coordinates.geometry import PatchGeometry
    from atlaspatch.orchestrator.slides.discovery import discover_slides
    from atlaspatch.orchestrator.slides.tile_batches import TileBatches

    xy = coords[:batch, :2]
    pixels = encoder_pb2.EmbedRequest(encoders=["efficientnet_lite0"])
    wire.patches_to_proto(np.zeros((len(xy), 256, 256, 3), np.uint8), into=pixels.patches)
    figures = {"pixels": round(pixels.ByteSize() / len(xy), 1)}
    read = int(coords[0, 2])
    geometry = PatchGeometry(256, 256, 20, 20, int(coords[0, 4]), read, read, read)
    tiles = TileBatches.open(discover_slides(slide)[0], geometry, xy)
    if tiles is not None:
        with tiles:
            request = encoder_pb2.EmbedRequest(encoders=["efficientnet_lite0"])
            wire.tiled_to_proto(tiles.batch(xy), into=request.tiled)
        figures["tiles"] = round(request.ByteSize() / len(xy), 1)
    return figures
