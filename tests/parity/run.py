"""Run AtlasPatch 1.1.0's builders and this project's encoders on the same published files and
the same real patches; print one JSON line per encoder.

    python -m tests.parity.run NAME [NAME ...] [--json FILE]

A row passes when, for each patch size, every patch's features have cosine >= 0.9999 with
the reference's and lie within 1% of that batch's spread around its mean (random networks can
map every patch to nearly one direction, where cosine alone would pass a wrong crop)."""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tests.parity.cases import Case

MIN_COSINE = 0.9999
MAX_DIFF_OF_SPREAD = 0.01


def compare(ours: np.ndarray, theirs: np.ndarray) -> dict:
    ours, theirs = ours.astype(np.float64), theirs.astype(np.float64)
    cosine = (ours * theirs).sum(1) / (
        np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1) + 1e-30
    )
    spread = np.linalg.norm(theirs - theirs.mean(0), axis=1).mean()
    difference = np.linalg.norm(ours - theirs, axis=1).max()
    return {
        "min_cosine": float(cosine.min()),
        "max_diff_of_spread": float(difference / (spread + 1e-30)),
    }


def verdict(figures: dict) -> str:
    ok = figures["min_cosine"] >= MIN_COSINE and figures["max_diff_of_spread"] <= MAX_DIFF_OF_SPREAD
    return "pass" if ok else "fail"


def run_one(case: Case, root: Path, patches: dict[int, np.ndarray]) -> dict:
    import torch
    from atlas_patch.models.patch import build_default_registry

    from atlaspatch.encoder_service.registry import EncoderRegistry
    from tests.parity.published import Layout

    name = case.name
    if case.lay_out is None:
        return {"name": name, "verdict": "unverifiable", "reason": case.unverifiable}
    started = time.monotonic()
    layout = Layout(root)
    weights = case.lay_out(layout)
    weights_dir = root / "weights-dir"
    weights_dir.mkdir(exist_ok=True)
    ours_file = weights_dir / f"{name}{weights.suffix}"
    ours_file.unlink(missing_ok=True)
    ours_file.symlink_to(weights)

    reference = build_default_registry(device="cpu").create(name)
    theirs = {s: reference.extract_batch(list(batch), batch_size=len(batch))
              for s, batch in patches.items()}  # fmt: skip
    del reference
    gc.collect()
    encoder = EncoderRegistry().create(name, weights_dir=weights_dir, allow_download=False)
    ours = {s: encoder.embed(torch.from_numpy(batch)).numpy() for s, batch in patches.items()}
    del encoder
    gc.collect()

    per_size = {str(s): compare(ours[s], theirs[s]) for s in patches}
    worst = {
        "min_cosine": min(f["min_cosine"] for f in per_size.values()),
        "max_diff_of_spread": max(f["max_diff_of_spread"] for f in per_size.values()),
    }
    return {
        "name": name,
        "verdict": verdict(worst),
        **worst,
        "per_size": per_size,
        "seconds": round(time.monotonic() - started, 1),
        "date": datetime.date.today().isoformat(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+")
    parser.add_argument("--json", type=Path, help="also write the rows here, as a JSON list")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="atlaspatch-parity-"))
    # Before huggingface_hub, transformers or torch read them.
    from tests.parity.published import Layout, MissingConfig
    from tests.parity.reference import use_reference

    os.environ.update(Layout(root).environment())
    use_reference()
    from tests.parity.cases import all_cases
    from tests.parity.patches import real_patches

    cases = all_cases()

    patches = real_patches()
    rows = []
    try:
        for name in args.names:
            try:
                row = run_one(cases[name], root, patches)
            except MissingConfig as missing:
                row = {"name": name, "verdict": "unverified", "reason": str(missing)}
            except Exception as error:  # a row that cannot run is reported, the rest go on
                row = {"name": name, "verdict": "error", "error": f"{type(error).__name__}: "
                       f"{error}"[:2000], "trace": traceback.format_exc()[-3000:]}  # fmt: skip
            rows.append(row)
            print(json.dumps(row), flush=True)
            for folder in (root / "hf-hub", root / "torch"):
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
