"""Disk space for a slide's HDF5 file, claimed before HDF5 writes into it.

HDF5 cannot recover from a failed write: the library's state is left broken, and releasing
the file then crashes the process (a segfault that took a whole run, its summary, report and
locks with it). So the space a file will need is allocated as soon as the file exists,
beyond its end where its size does not show it (fallocate's KEEP_SIZE). A full disk then
fails the slide with a clear error before HDF5 has anything to lose, and whatever was not
used is handed back when the file is closed.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
from pathlib import Path

from atlaspatch.orchestrator.slides.errors import SlideError

_KEEP_SIZE = 1  # FALLOC_FL_KEEP_SIZE
# Object headers, chunk indexes and attributes beyond the rows themselves, with room to
# spare (measured: 114 KB in a 29-row file with a 1,280-wide feature set, 19 KB in a
# 7,909-row coordinates file).
OVERHEAD_BYTES = 256 * 1024


class NoRoomForOutput(SlideError):
    pass


def output_bytes(rows: int, feature_dims: list[int]) -> int:
    """What a file of `rows` patches and these feature sets will take, at most."""
    # coords, tissue_fraction, quality scores and verdict, float32 features
    per_row = 5 * 4 + 4 + 5 * 4 + 1 + 4 * sum(feature_dims)
    return int(rows * per_row * 1.05) + OVERHEAD_BYTES


def check_room(folder: Path, name: str, size: int) -> None:
    """Refuse before creating a file that cannot fit (HDF5 writes as soon as it creates)."""
    free = shutil.disk_usage(folder).free
    if free < size:
        raise NoRoomForOutput(
            f"no room for {name} in {folder}: it needs about {_mb(size)}, {_mb(free)} are free"
        )


def claim(path: Path, size: int) -> None:
    """Allocate `size` bytes for `path` (which exists) past what it holds now."""
    if size <= 0:
        return
    fd = os.open(path, os.O_WRONLY)
    try:
        _allocate(fd, os.fstat(fd).st_size, size)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise
        free = shutil.disk_usage(path.parent).free
        raise NoRoomForOutput(
            f"no room for {path.name} in {path.parent}: it needs about {_mb(size)}, "
            f"{_mb(free)} are free ({exc.strerror})"
        ) from exc
    finally:
        os.close(fd)


def hand_back_unused(path: Path) -> None:
    """Release what `claim` allocated beyond the file's end (a truncation to its own size)."""
    if path.exists():
        os.truncate(path, path.stat().st_size)


def _allocate(fd: int, offset: int, size: int) -> None:
    fallocate = _libc_fallocate()
    if fallocate is None:
        return  # not Linux: nothing is claimed, as before
    if fallocate(fd, _KEEP_SIZE, offset, size) != 0:
        code = ctypes.get_errno()
        if code in (errno.EOPNOTSUPP, errno.ENOSYS):
            return  # a filesystem that cannot (some network ones): nothing is claimed
        raise OSError(code, os.strerror(code))


def _libc_fallocate():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fallocate = libc.fallocate
    except (OSError, AttributeError):
        return None
    fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    fallocate.restype = ctypes.c_int
    return fallocate


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB" if size >= 10e6 else f"{size / 1e3:,.0f} KB"
