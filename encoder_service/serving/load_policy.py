"""What a client may make a shared service load: only the encoders its operator allowed,
downloading weights only where the operator said so, a few loads at a time.

A client that can name any catalogue model could otherwise make a service fetch and hold
gigabytes (a 7B model) or keep every loading thread busy with hub retries."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, replace

from atlaspatch.api.errors import NotFound, shown


class NotServed(NotFound):
    pass


@dataclass(frozen=True)
class LoadPolicy:
    # fnmatch patterns of the names a client may ask for; None: any (in process).
    loadable: tuple[str, ...] | None = None
    # Weights missing here are fetched from the hub for a client's request (those named at
    # start always may be: the operator named them).
    allow_download: bool = True
    max_concurrent_loads: int = 2

    @classmethod
    def serving(
        cls,
        encoders: Iterable[str],
        loadable: Iterable[str] = (),
        allow_download: bool = False,
        max_concurrent_loads: int = 2,
    ) -> LoadPolicy:
        """A service's policy: what it loads at start, plus `loadable` patterns."""
        return cls((*encoders, *loadable), allow_download, max_concurrent_loads)

    def also(self, names: Iterable[str]) -> LoadPolicy:
        """This policy, with `names` loadable as well."""
        if self.loadable is None:
            return self
        return replace(self, loadable=(*self.loadable, *names))

    def check(self, name: str) -> None:
        if self.loadable is None:
            return
        if not any(fnmatch.fnmatchcase(name, pattern) for pattern in self.loadable):
            served = ", ".join(self.loadable) or "nothing"
            raise NotServed(
                f"encoder {shown(name)} is not served here; this service loads {served} "
                "(its operator may allow more with --loadable)"
            )
