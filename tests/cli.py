"""Running `atlaspatch` commands in the test process, with the tests' usual settings."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from atlaspatch.orchestrator.cli import main

# 256 px patches at 20x, the weight-free tissue model, on the CPU; later options win.
COMMON = ("--patch-size", "256", "--target-mag", "20", "--tissue-model", "otsu", "--device", "cpu")


def atlaspatch(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def coords_run(slide: Path, out: Path, *extra: str | Path) -> Result:
    return atlaspatch("segment-and-get-coords", slide, "-o", out, *COMMON, *extra)


def process_run(slide: Path, out: Path, *extra: str | Path) -> Result:
    return atlaspatch("process", slide, "-o", out, *COMMON, "--feature-batch-size", "8", *extra)
