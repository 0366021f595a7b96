"""The encoders a service holds: each loaded once per (name, precision), the least recently
used released when the loaded ones outgrow a memory budget.

Room is made before a load, from what the encoder is known to cost (its weights file's
parameters at the precision), and held for it while it loads: concurrent loads cannot
overshoot the budget together, and an encoder that cannot fit is refused before anything is
read. A load runs outside the shared lock, so requests for encoders already loaded never
wait for another encoder's weights to be read; two requests for the same new encoder load it
once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from atlaspatch.api.errors import Exhausted

Key = tuple[str, str]  # (encoder name, precision)
GIB = 2**30


class Sized(Protocol):
    def memory_bytes(self) -> int: ...


Entry = TypeVar("Entry", bound=Sized)


class LoadedEncoders(Generic[Entry]):
    def __init__(
        self,
        load: Callable[[Key], Entry],
        budget_bytes: int | None = None,
        on_release: Callable[[Entry], None] | None = None,
        estimate: Callable[[Key], int | None] | None = None,
    ):
        """`estimate`: what loading a key will hold, in bytes (None: not known before)."""
        self._load = load
        self._budget = budget_bytes
        self._on_release = on_release or (lambda entry: None)
        self._estimate = estimate or (lambda key: None)
        self._entries: OrderedDict[Key, Entry] = OrderedDict()  # least recently used first
        self._loading: dict[Key, threading.Lock] = {}
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._reserved = 0  # bytes promised to loads in progress

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
            need = self._needed(key)
            released = self._make_room(need)
            for old in released:
                self._on_release(old)
            try:
                entry = self._load(key)
            except BaseException:
                with self._room:
                    self._reserved -= need
                    self._room.notify_all()
                raise
            # Promised bytes become held ones in one step: a load waiting for room always
            # counts this one.
            with self._room:
                self._reserved -= need
                self._entries[key] = entry
                self._loading.pop(key, None)
                released = self._past_budget(keep=key)
                self._room.notify_all()
        for old in released:
            self._on_release(old)
        return entry

    def find(self, key: Key) -> Entry | None:
        """The entry of `key` if it is loaded (never loads)."""
        with self._lock:
            return self._used(key)

    def entries(self) -> list[Entry]:
        with self._lock:
            return list(self._entries.values())

    def _needed(self, key: Key) -> int:
        """What loading `key` will hold; refused at once when it can never fit."""
        if self._budget is None:
            return 0
        need = self._estimate(key) or 0
        if need > self._budget:
            raise Exhausted(
                f"encoder {key[0]} at {key[1]} needs about {need / GIB:.2f} GiB; this "
                f"service holds at most {self._budget / GIB:.2f} GiB of encoders "
                "(its --max-loaded-gib)"
            )
        return need

    def _make_room(self, need: int) -> list[Entry]:
        """Release the least recently used entries until `need` fits beside them and the
        loads in progress (waiting for those to finish when releasing is not enough), and
        promise it to this load."""
        released: list[Entry] = []
        if self._budget is None or need == 0:
            return released
        with self._room:
            while True:
                held = sum(entry.memory_bytes() for entry in self._entries.values())
                while self._entries and held + self._reserved + need > self._budget:
                    _, entry = self._entries.popitem(last=False)
                    held -= entry.memory_bytes()
                    released.append(entry)
                if held + self._reserved + need <= self._budget:
                    self._reserved += need
                    return released
                self._room.wait()

    def _used(self, key: Key) -> Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def _past_budget(self, keep: Key) -> list[Entry]:
        """Release the least recently used entries until the rest fit: what an encoder
        really holds can differ from its estimate (and some have none). The newest stays."""
        if self._budget is None:
            return []
        released = []
        total = sum(entry.memory_bytes() for entry in self._entries.values())
        for key in list(self._entries):
            if total + self._reserved <= self._budget:
                break
            if key != keep:
                entry = self._entries.pop(key)
                total -= entry.memory_bytes()
                released.append(entry)
        return released
