"""The machine-readable record of a run: `<output>/reports/<host>-<pid>-<time>.json`, one file
per worker, with every slide's status, reason, patch count and seconds per stage (and, for
`encode-patient`, every case's)."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

from atlaspatch.orchestrator import __version__
from atlaspatch.orchestrator.pipeline.interrupt import stopped_by
from atlaspatch.orchestrator.pipeline.result import SlideResult


def write_report(
    output: Path,
    command: str,
    results: list[SlideResult],
    started: float,
    finished: float,
    shard: str = "",
    cases: list[dict[str, Any]] | None = None,
) -> Path:
    """`cases`: one entry per case and encoder, each with a status; counted in case_counts."""
    folder = output / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    host, pid = socket.gethostname(), os.getpid()
    stamp = dt.datetime.fromtimestamp(started, dt.UTC).strftime("%Y%m%dT%H%M%S.%f")
    path = folder / f"{host}-{pid}-{stamp}.json"
    report: dict[str, Any] = {
        "command": command,
        "argv": sys.argv[1:],
        "atlaspatch_version": __version__,
        "host": host,
        "pid": pid,
        "shard": shard,
        "started": dt.datetime.fromtimestamp(started, dt.UTC).isoformat(),
        "seconds": round(finished - started, 3),
        # The signal that stopped the run (SIGTERM, SIGINT), or null: it ran to its end.
        "interrupted": stopped_by(),
        "counts": _counts([result.status for result in results]),
        "slides": [_entry(result) for result in results],
    }
    if cases is not None:
        report["case_counts"] = _counts([case["status"] for case in cases])
        report["cases"] = cases
    temporary = path.with_name(f".{path.name}.partial")
    try:
        temporary.write_text(json.dumps(report, indent=2) + "\n")
    except OSError:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, path)
    return path


def _counts(statuses: list[str]) -> dict[str, int]:
    return {status: statuses.count(status) for status in ("done", "skipped", "failed")}


def _entry(result: SlideResult) -> dict[str, Any]:
    return {
        "slide": str(result.source.path.absolute()),
        "stem": result.source.stem,
        "status": result.status,
        "reason": result.reason,
        "num_patches": result.num_patches,
        "output": str(result.output) if result.output else None,
        "seconds": {stage: round(value, 3) for stage, value in result.seconds.items()},
    }
