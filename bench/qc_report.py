"""The QC page's cost: a slide's card (picture and facts) beside the run that reaches its
mask, and the page built over many slides. Prints JSON.

    python bench/qc_report.py [--slides 2000] [--slide PATH]

- card: `segment-and-get-coords` on one slide (the otsu tissue model) with and without the
  card, the card's own seconds measured apart, over several rounds;
- page: an output root of `--slides` slides (their cards copied from that slide, a run record
  listing them all) gathered and rendered; seconds, and bytes of the page.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from click.testing import CliRunner  # noqa: E402
from machine import describe_machine  # noqa: E402

from atlaspatch.orchestrator import python_api as ap  # noqa: E402
from atlaspatch.orchestrator.cli import main as atlaspatch  # noqa: E402
from atlaspatch.orchestrator.run_report.card import save_card  # noqa: E402
from atlaspatch.orchestrator.run_report.page import write_page  # noqa: E402

COORDS = ("--patch-size", "256", "--target-mag", "20", "--tissue-model", "otsu", "--device", "cpu")
DEFAULT_SLIDE = Path(__file__).resolve().parents[2] / "shared/data/slides/CMU-1-Small-Region.svs"


def coords_run(slide: Path, out: Path):  # type: ignore[no-untyped-def]
    command = ["segment-and-get-coords", str(slide), "-o", str(out), *COORDS]
    return CliRunner().invoke(atlaspatch, command)


def card_cost(slide_path: Path, rounds: int) -> dict:
    seconds = []
    with ap.open_slide(slide_path) as slide, tempfile.TemporaryDirectory() as folder:
        mask = slide.segment(ap.segmenter("otsu"))
        patches = slide.coordinates(mask, patch_size=256, target_mag=20)
        for _ in range(rounds):  # the picture, its JPEG and the facts, written
            start = time.perf_counter()
            save_card(Path(folder), slide._opened, mask, patches)
            seconds.append(time.perf_counter() - start)
    runs = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            result = coords_run(slide_path, Path(out))
            assert result.exit_code == 0, result.output
            runs.append(time.perf_counter() - start)
    card, run = statistics.median(seconds), statistics.median(runs)
    return {
        "slide": slide_path.name,
        "patches": len(patches.xy),
        "card_seconds": round(card, 4),
        "segment_and_get_coords_seconds": round(run, 3),
        "card_share_of_run": round(card / run, 4),
    }


def page_cost(slide_path: Path, count: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        result = coords_run(slide_path, root)
        assert result.exit_code == 0, result.output
        (record_path,) = (root / "reports").glob("*.json")
        record = json.loads(record_path.read_text())
        entry, stem = record["slides"][0], slide_path.stem
        cards = root / "report_files"
        for index in range(count):
            name = f"slide-{index:05d}"
            shutil.copy(cards / f"{stem}.jpg", cards / f"{name}.jpg")
            card = json.loads((cards / f"{stem}.json").read_text())
            (cards / f"{name}.json").write_text(json.dumps({**card, "picture": f"{name}.jpg"}))
        record["slides"] = [{**entry, "stem": f"slide-{i:05d}"} for i in range(count)]
        record_path.write_text(json.dumps(record))
        seconds = []
        for _ in range(3):
            start = time.perf_counter()
            page = write_page(root)
            seconds.append(time.perf_counter() - start)
        return {
            "slides": count,
            "page_seconds": round(statistics.median(seconds), 3),
            "page_bytes": page.stat().st_size,
            "picture_bytes_each": (cards / f"{stem}.jpg").stat().st_size,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slides", type=int, default=2000)
    parser.add_argument("--slide", type=Path, default=DEFAULT_SLIDE)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    figures = {
        "machine": describe_machine(),
        "card": card_cost(args.slide, args.rounds),
        "page": page_cost(args.slide, args.slides),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
