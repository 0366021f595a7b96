"""Every patch encoder of AtlasPatch 1.1.0 that fits this machine gives the reference's
features: AtlasPatch's own builders (the released atlas-patch wheel) and this project's
encoders read the same published files (real configurations, seeded random weights) offline
and embed the same real patches (tests/parity). The giants run by `make parity-giants`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.parity.cases import all_cases

ROOT = Path(__file__).resolve().parents[1]
CASES = all_cases()
FITS = [name for name, case in CASES.items() if not case.giant]

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("parity") / "rows.json"
    subprocess.run(
        [sys.executable, "-m", "tests.parity.run", *FITS, "--json", str(out)],
        cwd=ROOT,
        check=True,
        timeout=3600,
    )
    return {row["name"]: row for row in json.loads(out.read_text())}


def test_the_harness_covers_every_name_of_the_reference() -> None:
    # In a process of its own: the reference's folder on sys.path would make CONCH's
    # packaged code importable to the other tests.
    names = subprocess.run(
        [
            sys.executable,
            "-c",
            "from tests.parity.reference import use_reference; use_reference(); "
            "from atlas_patch.models.patch import build_default_registry as r; "
            "print(' '.join(r(device='cpu').available()))",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert len(names) == 66 and set(names) == set(CASES)


@pytest.mark.parametrize("name", FITS)
def test_features_equal_the_references(name: str, rows: dict[str, dict]) -> None:
    row = rows[name]
    if row["verdict"] in ("unverified", "unverifiable"):
        pytest.skip(f"{name}: {row['reason']}")
    assert row["verdict"] == "pass", row
