"""Memory over a long run: `atlaspatch process` over many small synthetic slides in one
process, its resident memory sampled throughout; prints JSON.

    .venv/bin/python bench/soak.py [--slides 200] [--size 3000] [--encoder efficientnet_lite0]

Flat memory means the RSS late in the run is about what it was early on: no growth per slide.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe_machine  # noqa: E402
from rss import rss_mib  # noqa: E402

from atlaspatch.orchestrator.synthetic import write_synthetic_slide  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slides", type=int, default=200)
    parser.add_argument("--size", type=int, default=3000, help="Slide width in pixels at 40x.")
    parser.add_argument("--encoder", default="efficientnet_lite0", help="'none': coordinates only.")
    parser.add_argument("--max-open-slides", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        slides = Path(folder) / "slides"
        for index in range(args.slides):
            write_synthetic_slide(
                slides / f"slide-{index:04d}.tiff",
                width=args.size,
                height=args.size * 4 // 5,
                seed=index,
                downsamples=(1, 4),
            )
        command = [
            sys.executable, "-m", "atlaspatch.orchestrator.cli",
            "segment-and-get-coords", str(slides),
            "-o", str(Path(folder) / "out"), "--patch-size", "256", "--target-mag", "20",
            "--tissue-model", "otsu", "--device", "cpu",
            "--seg-batch-size", "4", "--max-open-slides", str(args.max_open_slides), "-v",
        ]  # fmt: skip
        if args.encoder != "none":
            command[3] = "process"
            command += ["--feature-extractors", args.encoder]
        started = time.monotonic()
        worker = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        patches = Path(folder) / "out" / "patches"
        by_slides: list[tuple[int, float]] = []  # (slides done, RSS MiB)
        while worker.poll() is None:
            try:
                done = len(list(patches.glob("*.h5"))) if patches.exists() else 0
                by_slides.append((done, rss_mib(worker.pid)))
            except OSError:
                break
            time.sleep(0.2)
        seconds = time.monotonic() - started
        # Up to the moment the last slide is written: interpreter shutdown is not growth.
        last = next((i for i, (done, _) in enumerate(by_slides) if done == args.slides), None)
        by_slides = by_slides[: None if last is None else last + 1]
        report = json.loads(next((Path(folder) / "out" / "reports").glob("*.json")).read_text())

    def rss_at(fraction: float) -> float:
        """RSS once `fraction` of the slides are done (models and imports long loaded)."""
        return max(mib for done, mib in by_slides if done <= fraction * args.slides)

    early, late = rss_at(0.2), rss_at(1.0)
    print(
        json.dumps(
            {
                "machine": describe_machine(),
                "slides": args.slides,
                "slide_size": [args.size, args.size * 4 // 5],
                "encoder": args.encoder,
                "exit_status": worker.returncode,
                "counts": report["counts"],
                "patches": sum(e["num_patches"] or 0 for e in report["slides"]),
                "seconds": round(seconds, 1),
                "rss_mib_by_slides_done": {
                    f"{round(f * 100)}%": round(rss_at(f), 1) for f in (0.2, 0.4, 0.6, 0.8, 1.0)
                },
                "growth_mib_per_100_slides_after_the_first_20pct": round(
                    (late - early) / (0.8 * args.slides) * 100, 2
                ),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
