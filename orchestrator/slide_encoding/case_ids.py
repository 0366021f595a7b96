"""Whether a manifest's case id can name the files made for it: `<case_id>.h5` under
patient_features/<encoder>/, its temporary `.<case_id>.h5.<pid>.<hex>.partial`, and its lock.
Checked before any work, so that no slide is computed for a case that cannot be written."""

from __future__ import annotations

import os

# The longest name made from a case id adds about 40 bytes to it (the temporary's prefix and
# suffix, or the lock's encoder name); 200 keeps it within the 255 bytes of common file systems.
MAX_CASE_ID_BYTES = 200
_ADDED_BYTES = 55
# Both, whatever this platform: an output folder may be read on another.
_SEPARATORS = ("/", "\\")


def case_id_limit(folder: str = ".") -> int:
    """The most UTF-8 bytes a case id may have: 200, or less where the file system allows
    shorter names."""
    try:
        name_max = os.pathconf(folder, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):
        return MAX_CASE_ID_BYTES
    return max(1, min(MAX_CASE_ID_BYTES, name_max - _ADDED_BYTES))


def case_id_problem(value: str, limit: int = MAX_CASE_ID_BYTES) -> str | None:
    """Why `value` cannot be a case id, or None."""
    if not value:
        return "case_id is empty"
    start = f"case_id {printable(value)} cannot be a file name:"
    if "\x00" in value:
        return f"{start} it holds a NUL byte"
    if value in (".", ".."):
        return f"{start} it names a folder"
    if any(sep in value for sep in _SEPARATORS):
        return f"{start} it holds a path separator"
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > limit:
        return f"{start} it is {size} bytes long in UTF-8, at most {limit} are allowed"
    return None


def printable(value: str, keep: int = 60) -> str:
    """A case id as a message shows it: quoted, control characters escaped, long ones cut."""
    shown = value if len(value) <= keep else value[:keep] + "..."
    return repr(shown)
