"""The encoders as the pipeline sees them: a batch of uint8 patches in, one float32 matrix
per encoder out. `LocalEncoders` calls the encoder service's own handler in this process;
`RemoteEncoders` (remote.py) calls the service. They differ only by the wire."""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from atlaspatch.api.encoder_facts import EncoderFacts
from atlaspatch.api.tiles import TiledBatch, decode_batch
from atlaspatch.client.in_process import service_libraries

if TYPE_CHECKING:
    from atlaspatch.encoder_service.serving.handler import EncoderHandler


class EncoderClient(Protocol):
    names: list[str]  # the encoders, in the order their results come
    in_flight: int  # batches worth keeping in flight at once
    accepts_tiles: bool  # whether `submit` takes a TiledBatch (decoded by the service)

    def embed(self, patches: np.ndarray | TiledBatch) -> dict[str, np.ndarray]:
        """(B, H, W, 3) uint8 -> {encoder name: (B, D) float32}."""
        ...

    def submit(self, patches: np.ndarray | TiledBatch) -> Future:
        """Like embed, without waiting; the caller may reuse `patches` at once."""
        ...

    def describe(self) -> dict[str, EncoderFacts]:
        """Load the encoders (or find them loaded) and give their facts, by name."""
        ...

    def known_facts(self) -> dict[str, EncoderFacts]:
        """Their facts, by name, without loading them in this process (what decides whether
        finished slides are reused); missing weights are a NotFound."""
        ...

    def check(self) -> None:
        """Refuse what can be refused before any slide: unknown names, a refused token."""
        ...

    def only(self, names: list[str]) -> EncoderClient:
        """The same encoders' client for some of their names."""
        ...


class LocalEncoders:
    in_flight = 1  # the work happens in submit itself
    accepts_tiles = False  # in process the slide reader decodes, in parallel

    def __init__(self, handler: EncoderHandler, names: list[str], precision: str = ""):
        self._handler = handler
        self.names = names
        self._precision = precision

    def embed(self, patches: np.ndarray | TiledBatch) -> dict[str, np.ndarray]:
        if isinstance(patches, TiledBatch):
            patches = decode_batch(patches)
        embedded = self._handler.embed_now(self.names, self._precision, patches)
        return {e.name: e.matrix for e in embedded}

    def submit(self, patches: np.ndarray | TiledBatch) -> Future:
        done: Future = Future()
        try:
            done.set_result(self.embed(patches))
        except Exception as exc:
            done.set_exception(exc)
        return done

    def describe(self) -> dict[str, EncoderFacts]:
        facts = self._handler.load(self.names, self._precision)
        return dict(zip(self.names, facts, strict=True))

    def known_facts(self) -> dict[str, EncoderFacts]:
        facts = self._handler.facts(self.names, self._precision)
        return dict(zip(self.names, facts, strict=True))

    def check(self) -> None:
        self._handler.check_known(self.names)

    def only(self, names: list[str]) -> LocalEncoders:
        return LocalEncoders(self._handler, names, self._precision)


def local_encoders(
    names: list[str],
    device: str,
    precision: str = "",
    weights_dir: Path | None = None,
    plugins: tuple[Path, ...] = (),
    plugin_workers: int = 1,
    batch_size: int = 0,
) -> LocalEncoders:
    """`names` in this process on `device` (cuda falls back to the CPU), at `precision` ("":
    the default for the device), each loaded when first used and warmed up at `batch_size`."""
    with service_libraries("Patch encoders", "--encoder-url"):
        from atlaspatch.encoder_service.serving.handler import EncoderHandler
        from atlaspatch.encoder_service.serving.sources import encoder_source

        source, device = encoder_source(plugins, device, precision, plugin_workers)
        handler = EncoderHandler(source, device, precision, weights_dir, warm_up_batch=batch_size)
        handler.preload([])  # ready: each encoder loads when first used
    return LocalEncoders(handler, names, precision)
