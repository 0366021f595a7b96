"""The end-of-run summary a person reads."""

from __future__ import annotations

from collections import Counter

import click

from atlaspatch.orchestrator.pipeline.result import SlideResult


def print_summary(results: list[SlideResult]) -> None:
    counts = Counter(result.status for result in results)
    for result in results:
        if result.status == "done":
            notes = [] if result.num_patches is None else [f"{result.num_patches} patches"]
            notes += [result.reason] if result.reason else []
            detail = f" ({', '.join(notes)})" if notes else ""
            click.echo(f"done     {result.source.name}{detail} -> {result.output}")
        elif result.status == "skipped":
            click.echo(f"skipped  {result.source.name}: {result.reason}")
    for result in results:
        if result.status == "failed":
            click.echo(f"FAILED   {result.source.name}: {result.reason}", err=True)
    click.echo(
        f"{counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed "
        f"of {len(results)} slides"
    )
