"""The patients of `encode-patient`: a CSV with columns case_id and slide_path (relative to
the CSV's folder, or absolute) and an optional mpp per slide, as AtlasPatch 1.1.0 reads it.
A patient's slides keep the CSV's order."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.slides.discovery import discover_slides
from orchestrator.slides.slide import SlideSource


@dataclass(frozen=True)
class Case:
    case_id: str
    slides: tuple[SlideSource, ...]


@dataclass(frozen=True)
class Manifest:
    path: Path
    cases: list[Case]
    sources: list[SlideSource]  # every slide once
    mpp_table: dict[str, float] = field(default_factory=dict)  # by slide file name


def load_manifest(path: Path) -> Manifest:
    """The manifest's patients and slides; ValueError, naming the line, for a row that
    cannot be used."""
    by_path: dict[Path, SlideSource] = {}
    by_stem: dict[str, Path] = {}
    mpps: dict[Path, float | None] = {}
    cases: dict[str, list[SlideSource]] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = {name.strip() for name in reader.fieldnames or []}
        if not {"case_id", "slide_path"} <= columns:
            raise ValueError(f"{path}: needs columns case_id and slide_path, has {sorted(columns)}")
        for line, raw in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
            where = f"{path}:{line}"
            case_id = _case_id(row.get("case_id", ""), where)
            slide = _slide_path(row.get("slide_path", ""), path.parent, where)
            mpp = _mpp(row.get("mpp", ""), where)
            if slide not in by_path:
                if by_stem.get(slide.stem, slide) != slide:
                    raise ValueError(
                        f"{where}: {slide} and {by_stem[slide.stem]} would both be written to "
                        f"patches/{slide.stem}.h5; rename one"
                    )
                by_stem[slide.stem], mpps[slide] = slide, mpp
                by_path[slide] = _source(slide, where)
            elif mpps[slide] != mpp:
                raise ValueError(f"{where}: {slide} has another mpp on an earlier line")
            slides = cases.setdefault(case_id, [])
            if by_path[slide] in slides:
                raise ValueError(f"{where}: {slide} is listed twice for case {case_id}")
            slides.append(by_path[slide])
    if not cases:
        raise ValueError(f"{path} lists no cases")
    table = {slide.name: mpp for slide, mpp in mpps.items() if mpp is not None}
    return Manifest(
        path.resolve(),
        [Case(case_id, tuple(slides)) for case_id, slides in cases.items()],
        list(by_path.values()),
        table,
    )


def _case_id(value: str, where: str) -> str:
    separators = [os.sep] + ([os.altsep] if os.altsep else [])
    if not value or value in (".", "..") or any(sep in value for sep in separators):
        raise ValueError(f"{where}: case_id {value!r} cannot be a file name")
    return value


def _slide_path(value: str, folder: Path, where: str) -> Path:
    if not value:
        raise ValueError(f"{where}: slide_path is empty")
    slide = Path(value).expanduser()
    slide = (slide if slide.is_absolute() else folder / slide).resolve()
    if not slide.is_file():
        raise ValueError(f"{where}: {slide} is not a file")
    return slide


def _mpp(value: str, where: str) -> float | None:
    if not value:
        return None
    try:
        mpp = float(value)
    except ValueError:
        mpp = float("nan")
    if not 0 < mpp < float("inf"):
        raise ValueError(f"{where}: mpp {value!r} is not a positive number")
    return mpp


def _source(slide: Path, where: str) -> SlideSource:
    found = discover_slides(slide)
    if len(found) != 1:
        raise ValueError(f"{where}: {slide} is not a slide")
    return found[0]
