"""The slides a command works on and the folder it writes to, checked before any slide."""

from __future__ import annotations

import os
from pathlib import Path

import click

from atlaspatch.orchestrator.batch.shards import ShardError, parse_shard, shard_from_environment
from atlaspatch.orchestrator.slides.discovery import DiscoveryError, discover_slides
from atlaspatch.orchestrator.slides.slide import SlideSource


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
