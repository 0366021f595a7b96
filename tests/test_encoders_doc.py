"""docs/encoders.md is generated from the registry and the parity harness's rows."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli import atlaspatch

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def markdown(*parity: Path) -> str:
    args = [arg for path in parity for arg in ("--parity", str(path))]
    result = atlaspatch("encoders", "--markdown", *args)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_row_says_how_the_patch_is_prepared_and_what_parity_showed(tmp_path: Path) -> None:
    rows = tmp_path / "rows.json"
    row = {"name": "resnet50", "verdict": "pass", "min_cosine": 0.99999, "date": "2026-12-04"}
    rows.write_text(json.dumps([{**row, "max_diff_of_spread": 0.004}]))
    line = next(line for line in markdown(rows).splitlines() if line.startswith("| `resnet50`"))
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    assert cells[1:5] == ["2048", "224", "256, centre 224", "bilinear"]
    assert cells[8:10] == ["bsd-3-clause", "pass (2026-12-04)"]
    assert cells[10] == "1 − cos 1e-05, 0.40% of spread"


def test_docs_encoders_md_is_what_the_command_makes_now() -> None:
    made = markdown(DOCS / "parity.json", DOCS / "parity-giants.json")
    assert (DOCS / "encoders.md").read_text() == made, "run `make encoders-doc`"
