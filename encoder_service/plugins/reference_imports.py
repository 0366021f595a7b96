"""Plugin files written for AtlasPatch import its plugin API from `atlas_patch`:

    from atlas_patch.models.patch.custom import CustomEncoderComponents, register_custom_encoder

While such a file loads, those module names resolve to this project's plugin API
(`encoder_service.custom`), so the file works unchanged. Where AtlasPatch itself is installed,
its modules are put back as soon as the file has loaded; where it is not, the names stay, so
that imports a plugin makes later (inside its loader) resolve too.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager

from atlaspatch.encoder_service import custom
from atlaspatch.encoder_service.registry import EncoderRegistry

ALIASED = (
    "atlas_patch",
    "atlas_patch.models",
    "atlas_patch.models.patch",
    "atlas_patch.models.patch.custom",
    "atlas_patch.models.patch.registry",
)


@contextmanager
def reference_plugin_imports() -> Iterator[None]:
    installed = _reference_installed()
    saved = {name: sys.modules[name] for name in ALIASED if name in sys.modules}
    sys.modules.update(_aliases())
    try:
        yield
    finally:
        if installed:
            for name in ALIASED:
                sys.modules.pop(name, None)
            sys.modules.update(saved)


def _reference_installed() -> bool:
    alias = sys.modules.get("atlas_patch")
    if alias is not None:
        return not getattr(alias, "__atlaspatch_alias__", False)
    try:
        return importlib.util.find_spec("atlas_patch") is not None
    except (ImportError, ValueError):
        return False


def _aliases() -> dict[str, types.ModuleType]:
    modules = {name: types.ModuleType(name) for name in ALIASED}
    for name, module in modules.items():
        module.__atlaspatch_alias__ = True  # type: ignore[attr-defined]
        module.__path__ = []  # type: ignore[attr-defined]  # a package, for the submodules
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(modules[parent], child, module)
    plugin_api = modules["atlas_patch.models.patch.custom"]
    for name in ("CustomEncoderComponents", "register_custom_encoder"):
        setattr(plugin_api, name, getattr(custom, name))
    registry = modules["atlas_patch.models.patch.registry"]
    registry.PatchFeatureExtractorRegistry = EncoderRegistry  # type: ignore[attr-defined]
    return modules
