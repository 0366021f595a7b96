"""Before any work on a slide: what to do with it, given what its output folder holds."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from orchestrator.pipeline.job import Job
from orchestrator.slides.slide import SlideSource


class Action(Enum):
    COMPUTE = "compute"  # open, segment, coordinates (features), commit
    SKIP = "skip"  # its output exists and is what this run would write
    FAIL = "fail"  # its output exists but was made otherwise
    RESUME = "resume"  # a killed `process` run left a file to finish
    ADD_FEATURES = "add features"  # its output lacks some of the requested feature sets


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str = ""
    missing: tuple[str, ...] = ()  # ADD_FEATURES: the encoders to add


COMPUTE = Decision(Action.COMPUTE)


def decide(source: SlideSource, job: Job) -> Decision:
    if source.same_stem:
        others = ", ".join(str(path) for path in source.same_stem)
        return Decision(
            Action.FAIL,
            f"its outputs are named {source.stem}.*, as are those of {others}: which slide "
            "they belong to would be a guess, so none of them is processed; rename all but "
            "one, or give each its own --output folder",
        )
    if job.coords is None:
        return COMPUTE  # masks only: pictures are always made anew
    out = job.slide_file(source)
    out.clear_private_leftovers()
    if job.features is not None and not out.exists():
        if job.run.force:
            out.drop_leftover()
            return COMPUTE
        usable = out.leftover_usable(job.expected(source), job.features.names)
        return Decision(Action.RESUME) if usable else COMPUTE
    if job.run.force or not out.exists():
        return COMPUTE
    existing = out.inspect(job.expected(source))
    if existing.damaged:
        why = f"{out.path} is damaged: {existing.mismatch}; use --force to recompute it"
        return Decision(Action.FAIL, why)
    if existing.mismatch:
        return Decision(
            Action.FAIL,
            f"{out.path} was made with other parameters ({existing.mismatch}); "
            "use --force to recompute it",
        )
    if job.features is None:
        why = "output exists" + ("" if job.run.skip_existing else " (use --force to overwrite)")
        return Decision(Action.SKIP, why)
    names = job.features.names
    # An incomplete set (fewer rows than coords, not all written) is computed anew.
    present = [name for name in names if name in existing.complete_features]
    if present:
        wanted = job.features.encoders.only(present).describe()
        differs = out.features_differ(existing, wanted)
        if differs:
            return Decision(
                Action.FAIL, f"{out.path} holds other features ({differs}); use --force"
            )
    missing = tuple(name for name in names if name not in existing.complete_features)
    if not missing:
        return Decision(Action.SKIP, "coordinates and features exist")
    return Decision(Action.ADD_FEATURES, missing=missing)
