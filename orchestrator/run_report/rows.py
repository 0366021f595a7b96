"""What the QC page shows of each slide, gathered from an output root: the run records
(`reports/*.json`: status, reason, stage times), the slide cards (`report_files/*.json`:
tissue, magnification, patches, picture) and, where a slide has no card (an output written
before cards existed), its HDF5 file's attributes."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py

from atlaspatch.orchestrator.output.quality_sets import read_usable
from atlaspatch.orchestrator.settings import REPORT_FILES

log = logging.getLogger(__name__)

# The commands whose records are about a slide's mask, coordinates and patch features.
SLIDE_COMMANDS = ("detect-tissue", "segment-and-get-coords", "process")


@dataclass
class SlideRow:
    stem: str
    slide: str = ""
    status: str = "unknown"  # done, skipped or failed in the last run that listed it
    reason: str = ""
    command: str = ""
    run_started: str = ""
    patches: int | None = None
    unusable: int | None = None  # patches a quality score flags (qc/usable false)
    tissue_percent: float | None = None
    magnification: float | None = None
    mpp: float | None = None
    magnification_source: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    picture: str | None = None  # relative to the output root
    geojson: str | None = None  # relative to the output root


@dataclass
class RunOverview:
    rows: list[SlideRow]
    runs: list[dict[str, Any]]  # each record's command, start, length, counts, shard


def gather(output: Path) -> RunOverview:
    rows: dict[str, SlideRow] = {}
    runs = []
    for record in _records(output):
        runs.append({key: record.get(key) for key in ("command", "started", "seconds", "shard")})
        runs[-1]["counts"] = record.get("counts", {})
        for entry in record.get("slides", []):
            _apply_record(rows.setdefault(entry["stem"], SlideRow(entry["stem"])), entry, record)
    for card in sorted((output / REPORT_FILES).glob("*.json")):
        _apply_card(rows.setdefault(card.stem, SlideRow(card.stem)), card, output)
    for h5 in sorted((output / "patches").glob("*.h5")):
        row = rows.setdefault(h5.stem, SlideRow(h5.stem, status="done"))
        if row.picture is None or row.patches is None:
            _apply_h5(row, h5)
    return RunOverview(sorted(rows.values(), key=lambda row: row.stem), runs)


def _records(output: Path) -> list[dict[str, Any]]:
    """The slide commands' run records, oldest first."""
    records = []
    for path in (output / "reports").glob("*.json"):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            log.warning("%s is not a run record, left out of the page: %s", path, exc)
            continue
        if record.get("command") in SLIDE_COMMANDS:
            records.append(record)
    return sorted(records, key=lambda record: record.get("started", ""))


def _apply_record(row: SlideRow, entry: dict[str, Any], record: dict[str, Any]) -> None:
    """A later run's verdict replaces an earlier one's; a slide skipped as done keeps the
    patch count and stage times of the run that computed it."""
    row.slide = Path(entry.get("slide", "")).name or row.slide
    row.status, row.reason = entry.get("status", "unknown"), entry.get("reason", "")
    row.command, row.run_started = record.get("command", ""), record.get("started", "")
    if entry.get("num_patches") is not None:
        row.patches = entry["num_patches"]
    if entry.get("seconds"):
        row.seconds = entry["seconds"]


def _apply_card(row: SlideRow, path: Path, output: Path) -> None:
    try:
        card = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        log.warning("%s is not a slide card, left out of the page: %s", path, exc)
        return
    row.slide = row.slide or card.get("slide", "")
    row.tissue_percent = card.get("tissue_percent")
    row.magnification = card.get("magnification")
    row.mpp = card.get("mpp")
    row.magnification_source = card.get("magnification_source", "")
    if row.patches is None and card.get("patches") is not None:
        row.patches = card["patches"]
    row.unusable = card.get("unusable")
    picture = path.parent / str(card.get("picture", ""))
    row.picture = f"{REPORT_FILES}/{picture.name}" if picture.is_file() else None
    geojson = card.get("geojson")
    if geojson and Path(geojson).is_file():
        row.geojson = _relative(Path(geojson), output)


def _apply_h5(row: SlideRow, path: Path) -> None:
    try:
        with h5py.File(path, "r") as file:
            attrs = dict(file.attrs)
            usable = read_usable(file)
    except OSError as exc:
        log.warning("%s could not be read for the page: %s", path, exc)
        return
    row.slide = row.slide or str(attrs.get("filename", ""))
    if row.unusable is None and usable is not None:
        row.unusable = int((~usable).sum())
    if row.patches is None and "num_patches" in attrs:
        row.patches = int(attrs["num_patches"])
    if row.magnification is None and "level0_magnification" in attrs:
        row.magnification = float(attrs["level0_magnification"])
    mpp = attrs.get("mpp")
    if row.mpp is None and isinstance(mpp, (int, float)):
        row.mpp = float(mpp)
    row.magnification_source = row.magnification_source or str(
        attrs.get("magnification_source", "")
    )


def _relative(path: Path, output: Path) -> str:
    try:
        return path.resolve().relative_to(output.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_uri()
