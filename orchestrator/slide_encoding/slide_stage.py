"""Encoding slides: each slide locked, its embeddings reused where the file holds them as
this run would make them, the others computed and written together; one slide's (or one
encoder's) failure is recorded and never stops the others."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from atlaspatch.orchestrator.batch.claim import claim
from atlaspatch.orchestrator.batch.locks import SlideLocks
from atlaspatch.orchestrator.pipeline.result import SlideResult, failure
from atlaspatch.orchestrator.progress import progress
from atlaspatch.orchestrator.slide_encoding.plan import Plan
from atlaspatch.orchestrator.slide_encoding.shelf import ModelShelf, reason
from atlaspatch.orchestrator.slide_encoding.slide_store import (
    SLIDE_FEATURES,
    read_patch_file,
    reusable,
    write_slide_embeddings,
)
from atlaspatch.orchestrator.slides.slide import SlideSource


def encode_slides(
    ready: list[tuple[SlideSource, Path]],
    plan: Plan,
    output: Path,
    shelf: ModelShelf,
    force: bool = False,
    show_progress: bool = True,
) -> list[SlideResult]:
    """A result per slide of `ready` (each with its patch HDF5): done, skipped (everything
    was there, or another worker holds the slide) or failed, with why."""
    results = []
    with (
        SlideLocks(output / "locks") as locks,
        progress(len(ready), "slide", leave=True, disable=not show_progress) as bar,
    ):
        for source, path in ready:
            refused = claim(locks, source)
            if refused is not None:
                results.append(refused)
            else:
                try:
                    results.append(_encode_slide(source, path, plan, shelf, force))
                except Exception as exc:
                    results.append(failure(source, exc))
                finally:
                    locks.release(source.stem)
            bar.update()
    return results


def _encode_slide(
    source: SlideSource, path: Path, plan: Plan, shelf: ModelShelf, force: bool
) -> SlideResult:
    patch_file = read_patch_file(path)
    vectors: dict[str, tuple[np.ndarray, dict[str, Any]]] = {}
    reused, problems = [], []
    for facts in plan.encoders:
        try:
            dim = patch_file.expected_dim(facts)
            if not force and reusable(patch_file, facts):
                reused.append(facts.name)
                continue
            vector = shelf.embed(facts, [path], dim)
            vectors[facts.name] = (vector, patch_file.provenance(facts))
        except Exception as exc:
            problems.append(f"{facts.name}: {reason(exc)}")
    notes = write_slide_embeddings(patch_file, vectors) if vectors else []
    notes += [f"{SLIDE_FEATURES}/{name} reused" for name in reused]
    if problems:
        done = f" ({', '.join(notes)})" if notes else ""
        return SlideResult(source, "failed", "; ".join(problems) + done, output=path)
    if not vectors:
        return SlideResult(source, "skipped", "its slide embeddings exist: " + ", ".join(reused))
    return SlideResult(
        source, "done", ", ".join(notes), num_patches=patch_file.num_patches, output=path
    )
