"""Before any work on a slide: what to do with it, given what its output folder holds."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from atlaspatch.orchestrator.output.existing import ExistingOutput
from atlaspatch.orchestrator.pipeline.job import Job
from atlaspatch.orchestrator.slides.slide import SlideSource


class Action(Enum):
    COMPUTE = "compute"  # open, segment, coordinates (features), commit
    SKIP = "skip"  # its output exists and is what this run would write
    FAIL = "fail"  # its output exists but was made otherwise
    RESUME = "resume"  # a killed `process` run left a file to finish
    ADD_FEATURES = "add features"  # its output lacks some of the requested feature sets


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str = ""  # COMPUTE, ADD_FEATURES: what it does to the file there, when done
    missing: tuple[str, ...] = ()  # ADD_FEATURES: the encoders to add


COMPUTE = Decision(Action.COMPUTE)


def decide(source: SlideSource, job: Job) -> Decision:
    """What to do with the slide; one that needs a model that cannot run here fails at once,
    before it is opened."""
    return _runnable(_decision(source, job), job)


def _runnable(decision: Decision, job: Job) -> Decision:
    needs_segmenter = decision.action is Action.COMPUTE
    needs_encoders = job.features is not None and decision.action in (
        Action.COMPUTE,
        Action.RESUME,
        Action.ADD_FEATURES,
    )
    for needed, problem, why in (
        (needs_segmenter, job.segmenter_problem, "it cannot be segmented here"),
        (needs_encoders, job.features_problem, "its features cannot be computed here"),
    ):
        if needed and problem is not None:
            return Decision(Action.FAIL, f"{why}: {problem}")
    return decision


def _decision(source: SlideSource, job: Job) -> Decision:
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
    if job.features is not None and (job.run.force or not out.exists()):
        if job.run.force:
            out.drop_leftover()
        elif out.leftover_usable(job.expected(source), job.features.names):
            return Decision(Action.RESUME)
    if not out.exists():
        return COMPUTE
    existing = out.inspect(job.expected(source))
    if job.run.force:
        return _forced(existing, job)
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
        return Decision(Action.SKIP, why + _unchecked(job))
    names = job.features.names
    # An incomplete set (fewer rows than coords, not all written) is computed anew.
    present = [name for name in names if name in existing.complete_features]
    if present and job.features_problem is None:
        # Known without loading the encoders: a rerun over finished slides loads nothing.
        wanted = job.features.encoders.only(present).known_facts()
        differs = out.features_differ(existing, wanted)
        if differs:
            return Decision(
                Action.FAIL, f"{out.path} holds other features ({differs}); use --force"
            )
    missing = tuple(name for name in names if name not in existing.complete_features)
    if not missing:
        return Decision(Action.SKIP, "coordinates and features exist" + _unchecked(job))
    return Decision(Action.ADD_FEATURES, changes(existing, missing), missing)


def _unchecked(job: Job) -> str:
    """What a reused file could not be compared with, and why."""
    missing = [
        f"{what} ({problem})"
        for what, problem in (
            ("the tissue model", job.segmenter_problem),
            ("the encoders", job.features_problem),
        )
        if problem is not None
    ]
    return f"; not compared with {' and '.join(missing)}" if missing else ""


def _forced(existing: ExistingOutput, job: Job) -> Decision:
    """--force: the named feature sets computed anew on the file's own coordinates, the
    others kept; only coordinates that cannot be reused are made again, and what they take
    with them is said."""
    if job.features is not None and not existing.damaged and not existing.mismatch:
        names = tuple(job.features.names)
        return Decision(Action.ADD_FEATURES, changes(existing, names), names)
    computed = job.features.names if job.features is not None else []
    lost = [f"features/{name}" for name in existing.features if name not in computed]
    lost += [f"slide_features/{name}" for name in existing.slide_features]
    why = existing.mismatch or "its coordinates are made again"
    note = f"replaced {existing.path.name} ({why})"
    return Decision(Action.COMPUTE, note + (f"; dropped {', '.join(lost)}" if lost else ""))


def changes(existing: ExistingOutput, computed: tuple[str, ...]) -> str:
    """What adding `computed` to the file does to it, as the summary says it."""
    replaced = [name for name in computed if name in existing.features]
    added = [name for name in computed if name not in existing.features]
    kept = [name for name in existing.features if name not in computed]
    parts = [
        f"{verb} " + ", ".join(f"features/{name}" for name in names)
        for verb, names in (("added", added), ("replaced", replaced), ("kept", kept))
        if names
    ]
    stale = [embedding for name in replaced for embedding in existing.derived.get(name, [])]
    if stale:
        made = "made from the replaced features"
        parts.append("dropped " + ", ".join(f"slide_features/{n}" for n in stale) + f" ({made})")
    return "; ".join(parts)
