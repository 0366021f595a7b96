"""`atlaspatch export`: every finished slide of an output root (or of its per-configuration
subfolders) written in TRIDENT's or CLAM's layout. A slide that cannot be exported is said,
with its reason; the others go on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from atlaspatch.orchestrator.export.clam import export_clam, write_process_list
from atlaspatch.orchestrator.export.stored import read_stored
from atlaspatch.orchestrator.export.trident import export_trident
from atlaspatch.orchestrator.output.roots import output_roots
from atlaspatch.orchestrator.progress import progress
from atlaspatch.orchestrator.slides.errors import SlideError

LAYOUTS = ("trident", "clam")


@dataclass
class ExportResult:
    files: int = 0
    slides: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # slide file -> reason
    notes: list[str] = field(default_factory=list)


def slide_files(output: Path) -> list[Path]:
    """The slides' HDF5 files of `output`, or of its per-configuration subfolders."""
    roots = output_roots(output)
    return sorted(path for root in roots for path in (root / "patches").glob("*.h5"))


def export(
    files: list[Path],
    layout: str,
    destination: Path,
    encoders: list[str] | None,
    pt_files: bool = True,
    show_progress: bool = True,
) -> ExportResult:
    """`encoders`: the feature sets to export (None: every complete one each file holds)."""
    result = ExportResult()
    exported_names = []
    bar = progress(len(files), "slide", f"export {layout}", leave=True, disable=not show_progress)
    for path in files:
        try:
            slide = read_stored(path)
            names = slide.feature_names if encoders is None else encoders
            missing = [name for name in names if name not in slide.feature_names]
            if missing:
                raise SlideError(f"it has no complete features/{', features/'.join(missing)}")
            if layout == "trident":
                result.files += export_trident(path, slide, destination, names)
            else:
                result.files += export_clam(path, slide, destination, names, pt_files)
            result.slides.append(path.stem)
            exported_names.append(str(slide.attrs.get("filename", path.stem)))
            if slide.incomplete:
                note = (
                    f"{path.stem}: unfinished feature sets left out: {', '.join(slide.incomplete)}"
                )
                result.notes.append(note)
        except (SlideError, OSError, KeyError, ValueError) as exc:
            result.failures[str(path)] = str(exc) if isinstance(exc, SlideError) else repr(exc)
        bar.update(1)
    bar.close()
    if layout == "clam" and exported_names:
        write_process_list(destination, exported_names)
    return result
