"""Throughput of `atlaspatch process`: in process, through one encoder service (one client and
many), against the machine's ceilings measured in the same run. Prints a table, then JSON.

    .venv/bin/python bench/throughput.py                  # CPU: the near-free encoder
    python3 bench/throughput.py --device cuda             # GPU: efficientnet_lite0, vit_l_16

Runs from the source tree, installed (`pip install --no-deps -e .` where the libraries are
already there): the CLI is started as `python -m atlaspatch.orchestrator.cli`. Encoders without
weights here get random ones of their real architecture in --weights-dir: speed does not depend
on the weights. On a CPU the default encoder is the mean colour of each patch
(bench/mean_colour_plugin.py), so that reading, the wire and the service are what is measured.
In-process and service runs alternate, `--rounds` times each, and the
medians are compared; a slide's feature stage is its `finish` seconds in the run's report,
the first slide apart from the steady ones.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(HERE)]  # for tests/ and bench/ (the package is installed)
# The tree first, then whatever the caller had (wheels carried to a GPU machine, say).
PATHS = [str(REPO), os.environ.get("PYTHONPATH", "")]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in PATHS if p)}
PLUGIN = HERE / "mean_colour_plugin.py"

import h5py  # noqa: E402
import numpy as np  # noqa: E402
from ceilings import (  # noqa: E402
    decode_ceiling,
    forward_ceiling,
    random_weights,
    slide_patches,
    wire_bytes_per_patch,
)
from local_service import free_port, wait_until_serving  # noqa: E402
from machine import describe_machine  # noqa: E402


def cli(*arguments: object) -> list[str]:
    return [sys.executable, "-m", "atlaspatch.orchestrator.cli", *map(str, arguments)]


def process(slides: Path, out: Path, encoder: str, args: argparse.Namespace, *extra) -> dict:
    """One `process` run; its per-slide feature-stage seconds from its report."""
    command = cli(
        "process", slides, "-o", out, "--patch-size", 256, "--target-mag", 20,
        "--tissue-model", "otsu", "--device", args.device, "--force",
        "--feature-extractors", encoder, "--feature-batch-size", args.batch, *extra,
    )  # fmt: skip
    subprocess.run(command, env=ENV, check=True, capture_output=True)
    report = json.loads(max((out / "reports").glob("*.json"), key=os.path.getmtime).read_text())
    seconds = [s["seconds"]["finish"] for s in report["slides"]]
    return {"patches": report["slides"][0]["num_patches"], "first": seconds[0], "rest": seconds[1:]}


def in_process_options(encoder: str, args: argparse.Namespace) -> list[str]:
    options = ["--weights-dir", args.weights_dir] + ["--feature-precision", args.precision]
    return options + (["--feature-plugin", str(PLUGIN)] if encoder == "mean_colour" else [])


def start_service(encoder: str, args: argparse.Namespace) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = cli(
        "serve", "encoder", "--port", port, "--device", args.device, "--encoders", encoder,
        "--precision", args.precision, "--max-batch-size", max(args.batch, 64),
        "--weights-dir", args.weights_dir,
    )  # fmt: skip
    if encoder == "mean_colour":
        command += ["--feature-plugin", str(PLUGIN)]
    service = subprocess.Popen(command, env=ENV, stderr=subprocess.DEVNULL)
    address = f"127.0.0.1:{port}"
    wait_until_serving(address, timeout=600)
    return service, address


def clients(slides: Path, work: Path, encoder: str, address: str, count: int, args) -> dict:
    """`count` clients at once, each over all the slides; their steady rates added up."""
    runs = [
        subprocess.Popen(
            cli(
                "process",
                slides,
                "-o",
                work / f"client{i}",
                "--patch-size",
                256,
                "--target-mag",
                20,
                "--tissue-model",
                "otsu",
                "--device",
                "cpu",
                "--force",
                "--feature-extractors",
                encoder,
                "--feature-batch-size",
                args.batch,
                "--encoder-url",
                address,
            ),
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for i in range(count)
    ]
    if any(run.wait() for run in runs):
        raise RuntimeError(f"a client of {count} failed")
    total = 0.0
    for i in range(count):
        reports = (work / f"client{i}" / "reports").glob("*.json")
        report = json.loads(max(reports, key=os.path.getmtime).read_text())
        seconds = [s["seconds"]["finish"] for s in report["slides"]][1:]
        total += report["slides"][0]["num_patches"] / statistics.median(seconds)
    return {"clients": count, "patches_per_second": round(total, 1)}


def min_cosine(a: Path, b: Path, encoder: str) -> float:
    with h5py.File(a) as first, h5py.File(b) as second:
        x, y = first[f"features/{encoder}"][...], second[f"features/{encoder}"][...]
    cosine = (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
    return round(float(cosine.min()), 6)


def measure(encoder: str, slides: Path, work: Path, args: argparse.Namespace) -> dict:
    local, remote, pixels = [], [], []
    service, address = start_service(encoder, args)
    try:
        for round_ in range(args.rounds):
            local.append(process(slides, work / f"local{round_}", encoder, args,
                                 *in_process_options(encoder, args)))  # fmt: skip
            remote.append(process(slides, work / f"remote{round_}", encoder, args,
                                  "--encoder-url", address))  # fmt: skip
            pixels.append(process(slides, work / f"pixels{round_}", encoder, args,
                                  "--encoder-url", address, "--send-pixels"))  # fmt: skip
        many = [clients(slides, work, encoder, address, n, args) for n in args.clients if n > 1]
    finally:
        service.terminate()
        service.wait()
    patches = local[0]["patches"]
    steady_local = statistics.median(s for run in local for s in run["rest"])
    steady_remote = statistics.median(s for run in remote for s in run["rest"])
    steady_pixels = statistics.median(s for run in pixels for s in run["rest"])
    slide = sorted((work / "local0" / "patches").glob("*.h5"))[0]
    return {
        "encoder": encoder,
        "patches_per_slide": patches,
        "forward_ceiling_patches_per_second": round(forward_ceiling(encoder, args), 1),
        "in_process_patches_per_second": round(patches / steady_local, 1),
        "in_process_first_slide_vs_steady": round(
            statistics.median(run["first"] for run in local) / steady_local, 2
        ),
        "service_one_client_patches_per_second": round(patches / steady_remote, 1),
        "service_vs_in_process": round(steady_local / steady_remote, 3),
        "service_sending_pixels_vs_in_process": round(steady_local / steady_pixels, 3),
        "service_first_slide_vs_steady": round(
            statistics.median(run["first"] for run in remote) / steady_remote, 2
        ),
        "service_many_clients": many,
        "fidelity_min_cosine": min_cosine(
            slide, work / "remote0" / "patches" / slide.name, encoder
        ),
        "fidelity_min_cosine_pixels": min_cosine(
            slide, work / "pixels0" / "patches" / slide.name, encoder
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if _has_cuda() else "cpu")
    parser.add_argument("--encoders", default=None, help="default: mean_colour on the CPU, "
                        "efficientnet_lite0,vit_l_16 on a GPU")  # fmt: skip
    parser.add_argument("--precision", default=None)
    parser.add_argument("--batch", type=int, default=None, help="default: 32 CPU, 256 GPU")
    parser.add_argument("--slides", type=int, default=4, help="copies of the slide per run")
    parser.add_argument("--slide", type=Path, help="a slide to use instead of a synthetic one")
    parser.add_argument("--width", type=int, default=40960)
    parser.add_argument("--height", type=int, default=30720)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", default=None, help="default: 1 on the CPU, 1,4,16 on a GPU")
    parser.add_argument("--weights-dir", type=Path, default=None)
    args = parser.parse_args()
    gpu = args.device.startswith("cuda")
    encoders = (args.encoders or ("efficientnet_lite0,vit_l_16" if gpu else "mean_colour")).split(
        ","
    )
    args.precision = args.precision or ("float16" if gpu else "float32")
    args.batch = args.batch or (256 if gpu else 32)
    args.clients = [int(n) for n in (args.clients or ("1,4,16" if gpu else "1")).split(",")]
    work = Path(tempfile.mkdtemp(prefix="atlaspatch-throughput-"))
    args.weights_dir = args.weights_dir or work / "weights"
    random_weights([e for e in encoders if e != "mean_colour"], args.weights_dir)

    slides = work / "slides"
    slides.mkdir()
    source = args.slide or _synthetic(work / "slide.tiff", args.width, args.height)
    for i in range(args.slides):
        os.link(source, slides / f"slide{i}{source.suffix}")
    started = time.time()
    slide, coords = slide_patches(slides, work, ENV)
    decode = decode_ceiling(slide, coords)
    rows = [measure(encoder, slides, work, args) for encoder in encoders]
    figures = {
        "machine": describe_machine(),
        "device": args.device,
        "precision": args.precision,
        "batch": args.batch,
        "slides_per_run": args.slides,
        "decode_ceiling_patches_per_second": round(decode, 1),
        "wire_bytes_per_patch": wire_bytes_per_patch(slide, coords, args.batch),
        "encoders": rows,
        "bench_seconds": round(time.time() - started, 1),
    }
    _print_table(figures)
    print(json.dumps(figures, indent=2))


def _synthetic(path: Path, width: int, height: int) -> Path:
    from atlaspatch.orchestrator.synthetic import write_synthetic_slide

    write_synthetic_slide(path, width, height, magnification=20, mpp=0.5)
    return path


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _print_table(figures: dict) -> None:
    print(f"{figures['machine']}; {figures['device']} {figures['precision']}, "
          f"batch {figures['batch']}")  # fmt: skip
    print(f"decode ceiling (all cores): {figures['decode_ceiling_patches_per_second']} patches/s; "
          f"wire: {figures['wire_bytes_per_patch']} bytes/patch")  # fmt: skip
    for row in figures["encoders"]:
        print(f"  {row['encoder']}: forward ceiling {row['forward_ceiling_patches_per_second']}, "
              f"in process {row['in_process_patches_per_second']}, one client through the "
              f"service {row['service_one_client_patches_per_second']} "
              f"({row['service_vs_in_process']}x; sending pixels "
              f"{row['service_sending_pixels_vs_in_process']}x), first slide "
              f"{row['in_process_first_slide_vs_steady']}x a later one, many clients "
              f"{row['service_many_clients']}, "
              f"min cosine {row['fidelity_min_cosine']}")  # fmt: skip


if __name__ == "__main__":
    main()
