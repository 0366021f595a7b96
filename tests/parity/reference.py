"""AtlasPatch 1.1.0's released code, as `make install` puts it: unpacked into a folder of its
own (`pip install --target`), not into the venv, whose `atlaspatch` command it would take."""

from __future__ import annotations

import sys
from pathlib import Path

REFERENCE = Path(__file__).resolve().parents[2] / ".venv" / "reference"


def use_reference() -> None:
    """Make `import atlas_patch` find the released code (after everything else)."""
    if not (REFERENCE / "atlas_patch").is_dir():
        raise ModuleNotFoundError(f"AtlasPatch 1.1.0 is not in {REFERENCE}: run `make install`")
    if str(REFERENCE) not in sys.path:
        sys.path.append(str(REFERENCE))
