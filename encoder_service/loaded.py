"""The encoders a service holds: each loaded once per (name, precision), the least recently
used released when the loaded ones outgrow a memory budget.

A load runs outside the shared lock, so requests for encoders already loaded never wait for
another encoder's weights to be read; two requests for the same new encoder load it once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

Key = tuple[str, str]  # (encoder name, precision)


class Sized(Protocol):
    def memory_bytes(self) -> int: ...


Entry = TypeVar("Entry", bound=Sized)


class LoadedEncoders(Generic[Entry]):
    def __init__(
        self,
        load: Callable[[Key], Entry],
        budget_bytes: int | None = None,
        on_release: Callable[[Entry], None] | None = None,
    ):
        self._load = load
        self._budget = budget_bytes
        self._on_release = on_release or (lambda entry: None)
        self._entries: OrderedDict[Key, Entry] = OrderedDict()  # least recently used first
        self._loading: dict[Key, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: Key) -> Entry:
        with self._lock:
            entry = self._used(key)
            if entry is not None:
                return entry
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:  # only callers of this key wait here
            with self._lock:
                entry = self._used(key)
            if entry is not None:
                return entry
            entry = self._load(key)
            with self._lock:
                self._entries[key] = entry
                self._loading.pop(key, None)
                released = self._past_budget(keep=key)
        for old in released:
            self._on_release(old)
        return entry

    def entries(self) -> list[Entry]:
        with self._lock:
            return list(self._entries.values())

    def _used(self, key: Key) -> Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def _past_budget(self, keep: Key) -> list[Entry]:
        """Release the least recently used entries until the rest fit (the newest always stays,
        whatever its size: a budget smaller than one encoder still serves that encoder)."""
        if self._budget is None:
            return []
        released = []
        total = sum(entry.memory_bytes() for entry in self._entries.values())
        for key in list(self._entries):
            if total <= self._budget:
                break
            if key != keep:
                entry = self._entries.pop(key)
                total -= entry.memory_bytes()
                released.append(entry)
        return released
