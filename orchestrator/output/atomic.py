"""A file written whole or not at all: under the project's temporary name beside it, renamed
over it only when everything was written."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from atlaspatch.orchestrator.output.writer import partial_path


@contextmanager
def written_whole(path: Path) -> Iterator[Path]:
    """The temporary path to write; renamed to `path` when the block ends without error,
    removed when it does not."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = partial_path(path)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_bytes_whole(path: Path, data: bytes) -> None:
    with written_whole(path) as temporary:
        temporary.write_bytes(data)
