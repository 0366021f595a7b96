"""Splitting the sorted slide list between workers: `--shard I/N`, or the index a Kubernetes
Indexed Job (JOB_COMPLETION_INDEX) or a SLURM job array (SLURM_ARRAY_TASK_ID) gives each one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class ShardError(ValueError):
    pass


@dataclass(frozen=True)
class Shard:
    index: int  # from 0
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def take(self, items: Sequence[T]) -> list[T]:
        """Every count-th item from this shard's index: shards differ by at most one slide
        and together cover the list exactly once."""
        return list(items[self.index :: self.count])


def parse_shard(text: str) -> Shard:
    index, slash, count = text.partition("/")
    if not slash or not index.strip().isdigit() or not count.strip().isdigit():
        raise ShardError(f"--shard {text!r}: write I/N, e.g. 0/8 (I counts from 0)")
    return _checked(int(index), int(count), f"--shard {text}")


def shard_from_environment(env: Mapping[str, str]) -> Shard | None:
    """The shard a scheduler gave this worker; the count is ATLASPATCH_SHARDS (or the size of
    the SLURM array). None when nothing says so."""
    count = env.get("ATLASPATCH_SHARDS")
    if "JOB_COMPLETION_INDEX" in env:
        if count is None:
            raise ShardError("JOB_COMPLETION_INDEX is set but ATLASPATCH_SHARDS is not")
        return _checked(int(env["JOB_COMPLETION_INDEX"]), int(count), "JOB_COMPLETION_INDEX")
    if "SLURM_ARRAY_TASK_ID" in env:
        first = int(env.get("SLURM_ARRAY_TASK_MIN", "0"))
        count = count or env.get("SLURM_ARRAY_TASK_COUNT")
        if count is None:
            raise ShardError("SLURM_ARRAY_TASK_ID is set but not ATLASPATCH_SHARDS")
        return _checked(int(env["SLURM_ARRAY_TASK_ID"]) - first, int(count), "SLURM array")
    return None


def _checked(index: int, count: int, source: str) -> Shard:
    if count < 1 or not 0 <= index < count:
        raise ShardError(f"{source}: shard {index} of {count} does not exist")
    return Shard(index, count)
