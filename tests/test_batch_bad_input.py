"""Bad input in a batch run costs only itself: each bad slide fails alone with its reason,
and an unwritable output folder is refused before any slide."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from atlaspatch.orchestrator.synthetic import write_synthetic_slide
from tests.cli import coords_run


def test_bad_inputs_fail_alone_with_their_reasons(tmp_path: Path) -> None:
    folder = tmp_path / "slides"
    good = write_synthetic_slide(folder / "good.tiff", width=3000, height=2400, seed=1).path
    (folder / "truncated.tiff").write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    (folder / "notes.svs").write_text("not a slide")
    blank = np.zeros((240, 300), dtype=np.uint8)
    write_synthetic_slide(folder / "blank.tiff", width=3000, height=2400, labels=blank)
    write_synthetic_slide(folder / "tiny.tiff", width=16, height=16, downsamples=(1,), tile=16)
    write_synthetic_slide(
        folder / "lowmag.tiff", width=3000, height=2400, magnification=10, mpp=1.0
    )
    write_synthetic_slide(
        folder / "noscale.tiff", width=3000, height=2400, magnification=None, mpp=None
    )
    result = coords_run(folder, tmp_path / "out")
    assert result.exit_code == 1
    expected = {
        "truncated.tiff": "OpenSlide cannot open it",
        "notes.svs": "OpenSlide cannot open it",
        "blank.tiff": "no tissue found",
        "tiny.tiff": "smaller than one patch",
        "lowmag.tiff": "above the slide's own 10x",
        "noscale.tiff": "--mpp-csv",
    }
    for name, reason in expected.items():
        line = next(line for line in result.output.splitlines() if f"FAILED   {name}:" in line)
        assert reason in line, line
    assert "done     good.tiff" in result.output
    assert sorted(p.name for p in (tmp_path / "out" / "patches").iterdir()) == ["good.h5"]
    unsupported = tmp_path / "slide.xyz"
    unsupported.write_text("?")
    alone = coords_run(unsupported, tmp_path / "out2")
    assert alone.exit_code == 1 and "unsupported file type '.xyz'" in alone.output


def test_unwritable_output_is_refused_before_any_slide(tmp_path: Path, synthetic_slide) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    # Immutable even for root (these machines run as root, where permission bits do nothing).
    if subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not permitted here")
    try:
        result = coords_run(synthetic_slide.path, locked / "out")
        assert result.exit_code == 1
        assert f"cannot write to the output folder {locked / 'out'}" in result.output
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=True)
    (tmp_path / "file").write_text("")
    blocked = coords_run(synthetic_slide.path, tmp_path / "file" / "out")
    assert blocked.exit_code == 1 and "cannot write to the output folder" in blocked.output
