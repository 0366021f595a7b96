"""What the handler needs of where its encoders come from (sources.py makes one)."""

from __future__ import annotations

from typing import Any, Protocol

from atlaspatch.api.encoder_facts import EncoderFacts
from atlaspatch.encoder_service.networks.encoder import Encoder


class EncoderSource(Protocol):
    """Makes encoders by name: the registry (local models) or Triton (forwarded models).
    A source that `batches_itself` gets each request at once, many at a time, instead of
    requests merged here first."""

    batches_itself: bool

    def default_precision(self, device: str) -> str:
        """The precision of a request that names none ("" where each model has its own)."""
        ...

    def create(
        self, name: str, device: str, precision: str, weights_dir: Any, allow_download: bool
    ) -> Encoder: ...

    def estimated_bytes(
        self, name: str, precision: str, weights_dir: Any, allow_download: bool
    ) -> int | None:
        """What `create` would hold here (None: not known before)."""
        ...

    def facts(
        self, name: str, device: str, precision: str, weights_dir: Any, allow_download: bool
    ) -> EncoderFacts:
        """What `create` would make computes, without making it."""
        ...

    def check_known(self, name: str) -> None:
        """Refuse a name the source has no encoder of."""
        ...
