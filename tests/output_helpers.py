"""Reading what a run left in its output folder: its reports and any unfinished files."""

from __future__ import annotations

import json
from pathlib import Path


def reports(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / "reports").glob("*.json"))]


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if ".partial" in p.name]


def slide_h5(folder: Path) -> Path:
    """The HDF5 a run wrote for the synthetic slide under `folder`."""
    return folder / "patches" / "synthetic-40x.h5"
