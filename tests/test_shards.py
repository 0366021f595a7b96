"""Shards: every slide in exactly one shard, the same split on every worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from atlaspatch.orchestrator.batch.shards import (
    Shard,
    ShardError,
    parse_shard,
    shard_from_environment,
)
from atlaspatch.orchestrator.cli import main
from tests.cli import COMMON


@pytest.mark.parametrize("count", [1, 3, 7, 20])
def test_shards_cover_the_list_once_and_evenly(count: int) -> None:
    slides = [f"slide-{i:03d}" for i in range(17)]
    parts = [Shard(i, count).take(slides) for i in range(count)]
    assert sorted(s for part in parts for s in part) == slides
    assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_parsing_and_the_environment() -> None:
    assert parse_shard("2/8") == Shard(2, 8)
    for bad in ["8/8", "1", "a/2", "-1/2", "0/0"]:
        with pytest.raises(ShardError):
            parse_shard(bad)
    assert shard_from_environment({}) is None
    indexed = {"JOB_COMPLETION_INDEX": "3", "ATLASPATCH_SHARDS": "4"}
    assert shard_from_environment(indexed) == Shard(3, 4)
    with pytest.raises(ShardError, match="ATLASPATCH_SHARDS"):
        shard_from_environment({"JOB_COMPLETION_INDEX": "0"})
    # SLURM arrays may start at 1: --array=1-5 gives tasks 1..5, shards 0..4.
    array = {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "5"}
    assert shard_from_environment(array) == Shard(4, 5)


def test_workers_split_a_folder_between_them(tmp_path: Path) -> None:
    from atlaspatch.orchestrator.synthetic import write_synthetic_slide

    slides = tmp_path / "slides"
    slides.mkdir()
    for seed in range(3):
        write_synthetic_slide(slides / f"s{seed}.tiff", width=3000, height=2400, seed=seed)
    out = tmp_path / "out"

    def run(*extra: str, env: dict[str, str] | None = None) -> str:
        args = ["segment-and-get-coords", str(slides), "-o", str(out), *COMMON, *extra]
        result = CliRunner().invoke(main, args, env=env)
        assert result.exit_code == 0, result.output
        return result.output

    run("--shard", "0/2")
    assert sorted(p.name for p in (out / "patches").iterdir()) == ["s0.h5", "s2.h5"]
    # The second worker learns its shard from Kubernetes' Indexed Job variables.
    output = run(env={"JOB_COMPLETION_INDEX": "1", "ATLASPATCH_SHARDS": "2"})
    assert "shard 1/2: 1 of 3 slides" in output
    assert sorted(p.name for p in (out / "patches").iterdir()) == ["s0.h5", "s1.h5", "s2.h5"]
    # More shards than slides: an empty shard succeeds with nothing to do.
    assert "0 of 3 slides" in run("--shard", "4/5")
