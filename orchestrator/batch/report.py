"""The machine-readable record of a run: `<output>/reports/<host>-<pid>-<time>.json`, one file
per worker, with every slide's status, reason, patch count and seconds per stage."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

from orchestrator import __version__
from orchestrator.pipeline.result import SlideResult


def write_report(
    output: Path,
    command: str,
    results: list[SlideResult],
    started: float,
    finished: float,
    shard: str = "",
) -> Path:
    folder = output / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    host, pid = socket.gethostname(), os.getpid()
    stamp = dt.datetime.fromtimestamp(started, dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%f")
    path = folder / f"{host}-{pid}-{stamp}.json"
    report: dict[str, Any] = {
        "command": command,
        "argv": sys.argv[1:],
        "atlaspatch_version": __version__,
        "host": host,
        "pid": pid,
        "shard": shard,
        "started": dt.datetime.fromtimestamp(started, dt.timezone.utc).isoformat(),
        "seconds": round(finished - started, 3),
        "counts": {
            status: sum(r.status == status for r in results)
            for status in ("done", "skipped", "failed")
        },
        "slides": [_entry(result) for result in results],
    }
    temporary = path.with_name(f".{path.name}.partial")
    try:
        temporary.write_text(json.dumps(report, indent=2) + "\n")
    except OSError:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, path)
    return path


def _entry(result: SlideResult) -> dict[str, Any]:
    return {
        "slide": str(result.source.path),
        "stem": result.source.stem,
        "status": result.status,
        "reason": result.reason,
        "num_patches": result.num_patches,
        "output": str(result.output) if result.output else None,
        "seconds": {stage: round(value, 3) for stage, value in result.seconds.items()},
    }
