"""The patients of `encode-patient`: a CSV with columns case_id and slide_path (relative to
the CSV's folder, or absolute) and an optional mpp per slide, as AtlasPatch 1.1.0 reads it.
A patient's slides keep the CSV's order.

A row that cannot be used fails its case alone, naming the line and why; the other cases go
on. Case ids are checked here, before any work, to be usable file names."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from atlaspatch.orchestrator.slide_encoding.case_ids import (
    MAX_CASE_ID_BYTES,
    case_id_problem,
    printable,
)
from atlaspatch.orchestrator.slides.discovery import discover_slides
from atlaspatch.orchestrator.slides.slide import SlideSource


@dataclass(frozen=True)
class Case:
    case_id: str
    slides: tuple[SlideSource, ...]


@dataclass(frozen=True)
class BadCase:
    """A case that cannot be encoded: its id as printed, and every line's reason."""

    label: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Manifest:
    path: Path
    cases: list[Case]
    sources: list[SlideSource]  # every slide of `cases` once
    mpp_table: dict[str, float] = field(default_factory=dict)  # by slide file name
    bad: list[BadCase] = field(default_factory=list)


class _Reading:
    """The rows read so far: the cases, their slides, and what is wrong with which case."""

    def __init__(self, path: Path, limit: int):
        self.path = path
        self.limit = limit
        self.by_path: dict[Path, SlideSource] = {}
        self.by_stem: dict[str, Path] = {}
        self.mpps: dict[Path, float | None] = {}
        self.cases: dict[str, list[SlideSource]] = {}
        self.problems: dict[str, list[str]] = {}

    def add(self, line: int, row: dict[str, str], extra: list[str]) -> None:
        where = f"{self.path}:{line}"
        raw_id = row.get("case_id", "")
        problem = case_id_problem(raw_id, self.limit)
        if problem is not None:
            self.problems.setdefault(printable(raw_id), []).append(f"{where}: {problem}")
            return
        try:
            if any(value.strip() for value in extra):
                raise ValueError(f"it has {len(extra)} more field(s) than the header")
            slide = self._slide(row.get("slide_path", ""), _mpp(row.get("mpp", "")))
            slides = self.cases.setdefault(raw_id, [])
            if slide in slides:
                raise ValueError(f"{slide.path} is listed twice for case {raw_id}")
            slides.append(slide)
        except (ValueError, OSError) as exc:
            self.cases.setdefault(raw_id, [])
            self.problems.setdefault(raw_id, []).append(f"{where}: {exc}")

    def _slide(self, value: str, mpp: float | None) -> SlideSource:
        slide = _slide_path(value, self.path.parent)
        if slide in self.by_path:
            if self.mpps[slide] != mpp:
                raise ValueError(f"{slide} has another mpp on an earlier line")
            return self.by_path[slide]
        if self.by_stem.get(slide.stem, slide) != slide:
            raise ValueError(
                f"{slide} and {self.by_stem[slide.stem]} would both be written to "
                f"patches/{slide.stem}.h5; rename one"
            )
        source = _source(slide)
        self.by_stem[slide.stem], self.mpps[slide], self.by_path[slide] = slide, mpp, source
        return source

    def manifest(self) -> Manifest:
        good = [
            Case(case_id, tuple(slides))
            for case_id, slides in self.cases.items()
            if case_id not in self.problems
        ]
        used = {source.path: source for case in good for source in case.slides}
        table = {
            path.name: mpp for path, mpp in self.mpps.items() if mpp is not None and path in used
        }
        bad = [BadCase(label, tuple(reasons)) for label, reasons in self.problems.items()]
        return Manifest(self.path.resolve(), good, list(used.values()), table, bad)


def load_manifest(path: Path, case_id_bytes: int = MAX_CASE_ID_BYTES) -> Manifest:
    """The manifest's patients and slides, and the cases a row of which cannot be used
    (case ids longer than `case_id_bytes` among them). ValueError only where the file as a
    whole cannot be used (columns, encoding, no rows)."""
    reading = _Reading(path, case_id_bytes)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        try:
            columns = {name.strip() for name in reader.fieldnames or []}
            if not {"case_id", "slide_path"} <= columns:
                raise ValueError(
                    f"{path}: needs columns case_id and slide_path, has {sorted(columns)}"
                )
            for raw in reader:
                # A row longer than the header puts its extra fields, as a list, under None.
                extra = raw.pop(None, None) or []  # type: ignore[call-overload]
                row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
                reading.add(reader.line_num, row, list(extra))
        except csv.Error as exc:
            raise ValueError(f"{path}:{reader.line_num}: not a CSV row ({exc})") from exc
    if not reading.cases and not reading.problems:
        raise ValueError(f"{path} lists no cases")
    return reading.manifest()


def _slide_path(value: str, folder: Path) -> Path:
    if not value:
        raise ValueError("slide_path is empty")
    if "\x00" in value:
        raise ValueError("slide_path holds a NUL byte")
    slide = Path(value).expanduser()
    slide = (slide if slide.is_absolute() else folder / slide).resolve()
    if not slide.exists():  # a file, or a DICOM slide's folder (as every command takes)
        raise ValueError(f"{slide} does not exist")
    return slide


def _mpp(value: str) -> float | None:
    if not value:
        return None
    try:
        mpp = float(value)
    except ValueError:
        mpp = float("nan")
    if not 0 < mpp < float("inf"):
        raise ValueError(f"mpp {value!r} is not a positive number")
    return mpp


def _source(slide: Path) -> SlideSource:
    found = discover_slides(slide)
    if len(found) != 1:
        raise ValueError(f"{slide} is not a slide")
    return found[0]
