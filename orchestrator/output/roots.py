"""Output roots: a folder a run wrote into, or, with --output-layout per-config, each of its
subfolders that one did."""

from __future__ import annotations

from pathlib import Path

ROOT_PARTS = ("reports", "patches", "report_files")


def output_roots(folder: Path) -> list[Path]:
    """`folder` where it is an output root, else its subfolders that are."""
    if _is_root(folder):
        return [folder]
    return sorted(child for child in folder.iterdir() if child.is_dir() and _is_root(child))


def _is_root(folder: Path) -> bool:
    return any((folder / part).is_dir() for part in ROOT_PARTS)
