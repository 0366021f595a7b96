"""The services' code run in this process, imported only when a command runs a model here:
a client that talks to services never imports their libraries (torch, timm, SAM2), and
where they are not installed it says what to install or which service to name instead."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager

from atlaspatch.api.errors import Refused

# What `pip install 'atlaspatch[services]'` adds to the client.
SERVICE_LIBRARIES = frozenset(
    {
        "torch",
        "torchvision",
        "timm",
        "sam2",
        "segmentation_models_pytorch",
        "transformers",
        "open_clip",
        "safetensors",
    }
)


class MissingLibraries(Refused):
    """A model asked to run in this process, where the services' libraries are absent."""


@contextmanager
def service_libraries(what: str, instead: str = "") -> Iterator[None]:
    """Around the imports and the building of `what` in this process; `instead`: the option
    that would run it on a service."""
    try:
        yield
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in SERVICE_LIBRARIES:
            raise
        alternative = f", or run them on a service ({instead} URL)" if instead else ""
        raise MissingLibraries(
            f"{what} in this process need {missing}, which is not installed: "
            f"pip install 'atlaspatch[services]'{alternative}"
        ) from exc


def require_libraries(what: str, instead: str, libraries: tuple[str, ...]) -> None:
    """Refuse now, as `service_libraries` would when `what` is built, where one of
    `libraries` is not installed: said before any slide, not at the first one."""
    with service_libraries(what, instead):
        for library in libraries:
            if importlib.util.find_spec(library) is None:
                raise ModuleNotFoundError(f"No module named {library!r}", name=library)
