"""Microns per pixel and objective magnification of a slide's level 0.

Order of trust: a `--mpp-csv` row for the slide, then the slide's own metadata. An override
of mpp also sets the magnification (10 µm / mpp, snapped to a standard objective when
close), so it really changes the patch geometry.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from atlaspatch.orchestrator.slides.errors import SlideError
from atlaspatch.orchestrator.slides.slide import SlideSource

# Scanners write mpp between ~0.1 and ~10; a TIFF's default 72 dpi reads as 352.8 µm/px.
PLAUSIBLE_MPP = (0.05, 20.0)
STANDARD_OBJECTIVES = (80.0, 60.0, 40.0, 20.0, 10.0, 5.0, 2.5, 1.25)
_SNAP_TOLERANCE = 0.1


@dataclass(frozen=True)
class Scale:
    mpp: float | None
    magnification: float
    source: str  # where the magnification came from, for logs and provenance


def load_mpp_csv(path: Path) -> dict[str, float]:
    """Map slide file name and stem to mpp from a CSV with columns `wsi,mpp` (UTF-8, with or
    without the byte-order mark Excel writes). A slide listed twice must agree with itself."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        fields = {name.strip().lower() for name in reader.fieldnames or []}
        if not {"wsi", "mpp"} <= fields:
            raise ValueError(f"{path}: needs columns 'wsi' and 'mpp', found {sorted(fields)}")
        by_name: dict[str, tuple[float, int]] = {}
        for line, row in enumerate(reader, start=2):
            row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            if not row.get("wsi"):
                continue
            mpp = _mpp(row["mpp"], f"{path}:{line}")
            name = Path(row["wsi"]).name
            first = by_name.setdefault(name, (mpp, line))
            if first[0] != mpp:
                raise ValueError(
                    f"{path}: {name} has mpp {first[0]} on line {first[1]} and {mpp} on line {line}"
                )
    stems: dict[str, set[float]] = {}
    for name, (mpp, _) in by_name.items():
        stems.setdefault(Path(name).stem, set()).add(mpp)
    # A stem stands for its file only where no other file of that stem says otherwise.
    table = {stem: mpps.pop() for stem, mpps in stems.items() if len(mpps) == 1}
    table.update({name: mpp for name, (mpp, _) in by_name.items()})
    return table


def _mpp(text: str, where: str) -> float:
    try:
        mpp = float(text)
    except ValueError:
        raise ValueError(f"{where}: mpp {text!r} is not a number") from None
    if not PLAUSIBLE_MPP[0] <= mpp <= PLAUSIBLE_MPP[1]:  # nan fails this too
        raise ValueError(f"{where}: mpp {mpp} is outside {PLAUSIBLE_MPP}")
    return mpp


def mpp_override(source: SlideSource, table: dict[str, float]) -> float | None:
    """The mpp the table gives the slide, by its file name or its stem; rows that name it
    both ways with different values are the slide's error, not a silent choice."""
    names = dict.fromkeys((source.path.name, source.stem, source.open_path.name))
    found = {name: table[name] for name in names if name in table}
    if len(set(found.values())) > 1:
        listed = ", ".join(f"{value:g} for {name!r}" for name, value in found.items())
        raise SlideError(f"the mpp table names this slide twice with different values: {listed}")
    return next(iter(found.values()), None)


def magnification_from_mpp(mpp: float) -> float:
    mag = 10.0 / mpp
    nearest = min(STANDARD_OBJECTIVES, key=lambda objective: abs(objective - mag) / objective)
    if abs(nearest - mag) / nearest <= _SNAP_TOLERANCE:
        return nearest
    return round(mag, 3)


def metadata_mpp(properties: dict[str, str]) -> float | None:
    for key in ("openslide.mpp-x", "aperio.MPP", "openslide.mirax.MPP"):
        value = _as_float(properties.get(key))
        if value is not None and PLAUSIBLE_MPP[0] <= value <= PLAUSIBLE_MPP[1]:
            return value
    description = properties.get("tiff.ImageDescription", "")
    match = re.search(r"MPP\s*=\s*([0-9.]+)", description)
    if match:
        value = _as_float(match.group(1))
        if value is not None and PLAUSIBLE_MPP[0] <= value <= PLAUSIBLE_MPP[1]:
            return value
    return None


def metadata_objective(properties: dict[str, str]) -> float | None:
    for key in ("openslide.objective-power", "aperio.AppMag", "hamamatsu.SourceLens"):
        value = _as_float(properties.get(key))
        if value is not None and value > 0:
            return value
    return None


def resolve_scale(
    source: SlideSource, properties: dict[str, str], table: dict[str, float]
) -> Scale:
    override = mpp_override(source, table)
    if override is not None:
        return Scale(override, magnification_from_mpp(override), "mpp-csv")
    mpp = metadata_mpp(properties)
    objective = metadata_objective(properties)
    if objective is not None:
        return Scale(mpp if mpp is not None else 10.0 / objective, objective, "objective-power")
    if mpp is not None:
        return Scale(mpp, magnification_from_mpp(mpp), "metadata mpp")
    raise SlideError(
        "no magnification: the slide has neither an objective power nor a plausible "
        "microns-per-pixel in its metadata; give one with --mpp-csv (columns wsi,mpp)"
    )


def _as_float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
