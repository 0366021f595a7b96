"""What each command does, given its settings: the glue between the CLI and the pipeline."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from client.segmenter import InProcessSegmenter, SegmenterClient
from orchestrator.devices import resolve_device
from orchestrator.discovery import DiscoveryError, discover_slides
from orchestrator.magnification import load_mpp_csv
from orchestrator.report import print_summary
from orchestrator.runner import SlideResult, run_slides
from orchestrator.settings import CoordsSettings, RunSettings
from orchestrator.slide import SlideSource
from orchestrator.slide_job import OpenedSlide, extract_coordinates
from orchestrator.visualize import save_contours, save_grid, save_mask
from segmenter_service.backend import create_segmenter
from segmenter_service.checkpoint import CheckpointNotFound
from segmenter_service.sam2_backend import CheckpointFormatError


def load_sources(path: Path, recursive: bool) -> list[SlideSource]:
    try:
        sources = discover_slides(path, recursive)
    except DiscoveryError as exc:
        raise click.ClickException(str(exc)) from exc
    if not sources:
        hint = "" if recursive else " (add --recursive to look in subfolders)"
        raise click.ClickException(f"no supported slides in {path}{hint}")
    return sources


def load_mpp_table(path: Path | None) -> dict[str, float]:
    if path is None:
        return {}
    try:
        return load_mpp_csv(path)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"--mpp-csv: {exc}") from exc


def build_segmenter(model: str, device: str, checkpoint: Path | None) -> SegmenterClient:
    try:
        backend = create_segmenter(model, resolve_device(device), checkpoint)
    except (CheckpointNotFound, CheckpointFormatError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    return InProcessSegmenter(backend)


def run_detect_tissue(
    sources: list[SlideSource], segmenter: SegmenterClient, run: RunSettings, tissue_thresh: float
) -> list[SlideResult]:
    def finish(slide: OpenedSlide, mask: np.ndarray) -> tuple[int | None, Path | None]:
        pixels, stem = slide.thumbnail.pixels, slide.source.stem
        written = save_mask(run.visualization_dir, stem, pixels, mask)
        if run.visual.contours:
            save_contours(run.visualization_dir, stem, pixels, mask)
        return None, written[0]

    results = run_slides(sources, segmenter, finish, run, tissue_thresh)
    print_summary(results)
    return results


def run_coordinates(
    sources: list[SlideSource],
    segmenter: SegmenterClient,
    settings: CoordsSettings,
    run: RunSettings,
) -> list[SlideResult]:
    provenance = segmenter.provenance()

    def finish(slide: OpenedSlide, mask: np.ndarray) -> tuple[int | None, Path | None]:
        outcome = extract_coordinates(slide, mask, settings, run, provenance)
        pixels, stem = slide.thumbnail.pixels, slide.source.stem
        if run.visual.mask:
            save_mask(run.visualization_dir, stem, pixels, mask)
        if run.visual.contours:
            save_contours(run.visualization_dir, stem, pixels, mask)
        if run.visual.grids:
            save_grid(
                run.visualization_dir,
                stem,
                pixels,
                slide.level0_size,
                outcome.kept_xy,
                outcome.geometry.size_level0,
            )
        return len(outcome.kept_xy), outcome.path

    def existing(source: SlideSource) -> Path | None:
        path = run.patches_dir / f"{source.stem}.h5"
        return path if path.exists() else None

    results = run_slides(sources, segmenter, finish, run, settings.tissue_thresh, existing)
    print_summary(results)
    return results
