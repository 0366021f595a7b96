"""Finding slides under a path: single files, folders, and DICOM series given as a folder."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from pathlib import Path

from atlaspatch.orchestrator.slides.slide import SUPPORTED_EXTENSIONS, SlideSource


class DiscoveryError(Exception):
    """The path itself is unusable (missing, empty): nothing to process."""


def discover_slides(path: Path, recursive: bool = False) -> list[SlideSource]:
    """Slides named by `path`, sorted by path so every worker sees the same order, each told
    of the others whose outputs would share its name (`x.tiff`, `x.svs`, `sub/x.tiff`).

    A DICOM whole-slide image is one file per level in a folder; such a folder (or any
    one of its files) is one slide, named after the folder.
    """
    return _with_same_stems(_found(path, recursive))


def _with_same_stems(sources: list[SlideSource]) -> list[SlideSource]:
    by_stem: dict[str, list[Path]] = defaultdict(list)
    for source in sources:
        by_stem[source.stem].append(source.path)
    return [
        dataclasses.replace(
            source, same_stem=tuple(p for p in by_stem[source.stem] if p != source.path)
        )
        for source in sources
    ]


def _found(path: Path, recursive: bool) -> list[SlideSource]:
    if not path.exists():
        raise DiscoveryError(f"{path} does not exist")
    if path.is_file():
        if path.suffix.lower() == ".dcm":
            return [_dicom_source(path.parent, given=path)]
        return [SlideSource(path=path, open_path=path, stem=path.stem)]
    if not path.is_dir():
        raise DiscoveryError(f"{path} is neither a regular file nor a folder")
    if _is_dicom_folder(path):
        return [_dicom_source(path)]

    sources: list[SlideSource] = []
    for child in sorted(path.iterdir()):
        if child.is_dir():
            if _is_dicom_folder(child):
                sources.append(_dicom_source(child))
            elif recursive:
                sources.extend(_found(child, recursive=True))
        elif child.suffix.lower() in SUPPORTED_EXTENSIONS and child.suffix.lower() != ".dcm":
            sources.append(SlideSource(path=child, open_path=child, stem=child.stem))
    return sources


def _is_dicom_folder(folder: Path) -> bool:
    return any(child.suffix.lower() == ".dcm" for child in folder.iterdir() if child.is_file())


def _dicom_source(folder: Path, given: Path | None = None) -> SlideSource:
    first = given or sorted(p for p in folder.iterdir() if p.suffix.lower() == ".dcm")[0]
    return SlideSource(path=folder, open_path=first, stem=folder.name)
