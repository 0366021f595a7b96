"""The patch features slide and patient encoders read: computed by the `process` pipeline
where a slide lacks them (coordinates too, where it has no HDF5 yet), taken as they are where
its HDF5 holds them and the patch encoders cannot be loaded here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from atlaspatch.api.errors import ServiceError
from atlaspatch.orchestrator.batch.runner import run_slides
from atlaspatch.orchestrator.cli.connect import connect_encoders, connect_segmenter
from atlaspatch.orchestrator.pipeline.job import Job
from atlaspatch.orchestrator.pipeline.result import SlideResult, failure
from atlaspatch.orchestrator.settings import (
    CoordsSettings,
    FeatureSettings,
    RunSettings,
    settings_from,
)
from atlaspatch.orchestrator.slides.slide import SlideSource

Ready = list[tuple[SlideSource, Path]]


def prepare_patch_files(
    sources: list[SlideSource],
    options: dict[str, Any],
    run: RunSettings,
    coords: CoordsSettings,
    patch_encoders: list[str],
) -> tuple[Ready, list[SlideResult]]:
    """The slides whose HDF5 holds every feature set of `patch_encoders` (made with this
    run's parameters), with its path; and the slides that failed, each with its reason."""
    segmenter = connect_segmenter(options)
    try:
        encoders = connect_encoders({**options, "feature_extractors": ",".join(patch_encoders)})
        encoders.known_facts()  # their weights are here (nothing is loaded yet)
    except ServiceError as exc:  # unknown here, weights missing, a service refusing
        return _as_they_are(sources, Job.create(run, segmenter, coords), patch_encoders, exc)
    features = settings_from(FeatureSettings, options, encoders=encoders)
    job = Job.create(run, segmenter, coords, features)
    ready: Ready = []
    failed = []
    for result in run_slides(sources, job):
        if result.status == "failed":
            failed.append(result)
        else:  # done, or skipped: the slide stage looks at the file under the slide's lock
            ready.append((result.source, job.slide_file(result.source).path))
    return ready, failed


def _as_they_are(
    sources: list[SlideSource], job: Job, patch_encoders: list[str], unavailable: Exception
) -> tuple[Ready, list[SlideResult]]:
    ready: Ready = []
    failed = []
    for source in sources:
        try:
            why = _not_ready(source, job, patch_encoders)
        except Exception as exc:
            failed.append(failure(source, exc))
            continue
        if why is None:
            ready.append((source, job.slide_file(source).path))
        else:
            reason = f"{why}, and they cannot be computed here: {unavailable}"
            failed.append(SlideResult(source, "failed", reason))
    return ready, failed


def _not_ready(source: SlideSource, job: Job, patch_encoders: list[str]) -> str | None:
    """Why the slide's HDF5 cannot be used as it is, or None."""
    out = job.slide_file(source)
    wanted = ", ".join(f"features/{name}" for name in patch_encoders)
    if source.same_stem:
        others = ", ".join(str(path) for path in source.same_stem)
        return f"its HDF5 would be named {out.path.name}, as would those of {others}"
    if job.run.force:
        return f"--force recomputes its patch features ({wanted})"
    if not out.exists():
        return f"it has no patch features yet ({out.path} does not exist; needed: {wanted})"
    existing = out.inspect(job.expected(source))
    if existing.mismatch:
        return f"{out.path} was made with other parameters ({existing.mismatch})"
    missing = [name for name in patch_encoders if name not in existing.complete_features]
    if missing:
        return f"{out.path} lacks " + ", ".join(f"features/{name}" for name in missing)
    return None
