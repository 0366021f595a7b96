"""What each command does, given its settings: the glue between the CLI and the pipeline."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import click
import grpc
import h5py
import numpy as np

from client.channel import Endpoint
from client.encoder import EncoderClient, InProcessEncoders
from client.remote import RemoteEncoders, RemoteSegmenter
from client.segmenter import InProcessSegmenter, SegmenterClient
from orchestrator.devices import resolve_device
from orchestrator.discovery import DiscoveryError, discover_slides
from orchestrator.features import FeaturePass, embed_into
from orchestrator.geometry import PatchGeometry
from orchestrator.h5out import partial_path
from orchestrator.magnification import load_mpp_csv, mpp_override
from orchestrator.report import print_summary
from orchestrator.resume import clear_leftovers, resume_slide
from orchestrator.reuse import feature_mismatch, inspect_existing, reading_geometry
from orchestrator.runner import SlideResult, run_slides
from orchestrator.settings import CoordsSettings, FeatureSettings, RunSettings
from orchestrator.shards import ShardError, parse_shard, shard_from_environment
from orchestrator.slide import SlideSource
from orchestrator.slide_job import (
    CoordsPlan,
    ExtraWriter,
    OpenedSlide,
    plan_coordinates,
    write_slide_h5,
)
from orchestrator.visualize import save_contours, save_grid, save_mask
from segmenter_service.backend import create_segmenter
from segmenter_service.checkpoint import CheckpointNotFound
from segmenter_service.sam2_backend import CheckpointFormatError


def load_sources(
    path: Path, recursive: bool, shard_text: str | None = None
) -> tuple[list[SlideSource], str]:
    """The slides to work on (this worker's shard of them) and the shard, as "I/N" or ""."""
    try:
        sources = discover_slides(path, recursive)
        shard = parse_shard(shard_text) if shard_text else shard_from_environment(os.environ)
    except (DiscoveryError, ShardError) as exc:
        raise click.ClickException(str(exc)) from exc
    if not sources:
        hint = "" if recursive else " (add --recursive to look in subfolders)"
        raise click.ClickException(f"no supported slides in {path}{hint}")
    if shard is None:
        return sources, ""
    mine = shard.take(sources)
    click.echo(f"shard {shard}: {len(mine)} of {len(sources)} slides", err=True)
    if not mine:  # more shards than slides: nothing to do is a success
        raise SystemExit(0)
    return mine, str(shard)


def ensure_writable(output: Path) -> None:
    """Fail before any slide when the output folder cannot be written."""
    try:
        output.mkdir(parents=True, exist_ok=True)
        probe = output / f".atlaspatch-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise click.ClickException(f"cannot write to the output folder {output}: {exc}") from exc


def load_mpp_table(path: Path | None) -> dict[str, float]:
    if path is None:
        return {}
    try:
        return load_mpp_csv(path)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"--mpp-csv: {exc}") from exc


def build_segmenter(
    model: str, device: str, checkpoint: Path | None, endpoint: Endpoint | None = None
) -> SegmenterClient:
    if endpoint is not None:
        return RemoteSegmenter(endpoint, model)
    try:
        backend = create_segmenter(model, resolve_device(device), checkpoint)
    except (CheckpointNotFound, CheckpointFormatError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    return InProcessSegmenter(backend)


def in_process_features(encoders: list, batch_size: int) -> FeatureSettings:
    by_name = {encoder.name: encoder for encoder in encoders}
    return FeatureSettings(
        names=list(by_name),
        client_for=lambda names: InProcessEncoders([by_name[n] for n in names]),
        batch_size=batch_size,
    )


def remote_features(
    endpoint: Endpoint, names: list[str], precision: str, batch_size: int
) -> FeatureSettings:
    def client_for(subset: list[str]) -> EncoderClient:
        client = RemoteEncoders(endpoint, subset, precision)
        try:
            client.describe()  # fails early: unknown names, missing weights, refused token
        except grpc.RpcError as error:
            raise click.ClickException(
                f"encoder service at {endpoint.target}: {error.code().name}: {error.details()}"  # type: ignore[attr-defined]
            ) from error
        return client

    client_for(names)
    return FeatureSettings(names=names, client_for=client_for, batch_size=batch_size)


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
    features: FeatureSettings | None = None,
) -> list[SlideResult]:
    """`segment-and-get-coords`, and `process` when `features` is given."""
    provenance = segmenter.provenance()

    def finish(slide: OpenedSlide, mask: np.ndarray) -> tuple[int | None, Path | None]:
        plan = plan_coordinates(slide, mask, settings, run)
        extra = None if features is None else _feature_writer(slide.source, features, run)
        path = write_slide_h5(slide, plan, settings, run, provenance, extra)
        _save_pictures(slide, mask, plan, run)
        return len(plan.xy), path

    def triage(source: SlideSource) -> SlideResult | None:
        """Settle a slide without segmenting it when its output exists or can be finished."""
        clear_leftovers(source, run)
        path = run.patches_dir / f"{source.stem}.h5"
        if features is not None and not path.exists():
            return resume_slide(source, settings, provenance, features, run)
        if run.force or not path.exists():
            return None
        existing = inspect_existing(path, settings, provenance, mpp_override(source, run.mpp_table))
        assert existing is not None
        if existing.mismatch:
            return SlideResult(
                source,
                "failed",
                f"{path} was made with other parameters ({existing.mismatch}); "
                "use --force to recompute it",
            )
        if features is None:
            why = "output exists" + ("" if run.skip_existing else " (use --force to overwrite)")
            return SlideResult(source, "skipped", why, output=path)
        present = [name for name in features.names if name in existing.encoders]
        differs = (
            feature_mismatch(existing, features.client_for(present).describe()) if present else None
        )
        if differs:
            return SlideResult(
                source, "failed", f"{path} holds other features ({differs}); use --force"
            )
        missing = [name for name in features.names if name not in existing.encoders]
        if not missing:
            return SlideResult(source, "skipped", "coordinates and features exist", output=path)
        count = add_features(source, path, features.client_for(missing), features, run)
        return SlideResult(source, "done", "", count, path)

    results = run_slides(sources, segmenter, finish, run, settings.tissue_thresh, triage)
    print_summary(results)
    return results


def _feature_writer(
    source: SlideSource, features: FeatureSettings, run: RunSettings
) -> ExtraWriter:
    def write(h5: h5py.File, plan: CoordsPlan) -> None:
        encoders = features.client_for(features.names)
        embed_into(h5, _pass(source, plan.geometry, plan.xy, encoders, features, run))

    return write


def add_features(
    source: SlideSource,
    path: Path,
    encoders: EncoderClient,
    features: FeatureSettings,
    run: RunSettings,
) -> int:
    """Embed the patches of an existing HDF5 with more encoders: on a copy, renamed over it."""
    temporary = partial_path(path)
    shutil.copyfile(path, temporary)
    try:
        with h5py.File(temporary, "r+") as h5:
            coords = h5["coords"][...]
            geometry = reading_geometry(h5, coords)
            embed_into(h5, _pass(source, geometry, coords[:, :2], encoders, features, run))
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return len(coords)


def _pass(
    source: SlideSource,
    geometry: PatchGeometry,
    xy: np.ndarray,
    encoders: EncoderClient,
    features: FeatureSettings,
    run: RunSettings,
) -> FeaturePass:
    return FeaturePass(
        source, geometry, xy, encoders, features.batch_size, run.patch_workers, run.show_progress
    )


def _save_pictures(
    slide: OpenedSlide, mask: np.ndarray, plan: CoordsPlan, run: RunSettings
) -> None:
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
            plan.xy,
            plan.geometry.size_level0,
        )
