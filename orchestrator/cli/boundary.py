"""The one place where the services' errors become messages a person reads, and where the
commands' logging is set up."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click
from tqdm import tqdm

from atlaspatch.api.errors import ServiceError


class ServiceErrorsAsMessages(click.Group):
    """A command group whose commands end with `Error: <message>` and exit status 1 on a
    service error (unknown encoder, missing weights or checkpoint, refused token, a service
    down for good), in process and remote alike, instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ServiceError as exc:
            raise click.ClickException(str(exc)) from exc


def configure_logging(verbose: bool, quiet: int) -> None:
    """Debug logging with --verbose, else `quiet` and above; each message once (a slide's
    warning from every reader thread is one warning), written above the progress bars."""
    handler = BarSafeHandler()
    handler.addFilter(OnlyOnce())
    logging.basicConfig(
        level=logging.DEBUG if verbose else quiet,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[handler],
    )


class OnlyOnce(logging.Filter):
    """Lets each warning (or worse) through once; the same text again is dropped."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[tuple[str, int, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, record.getMessage())
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


class BarSafeHandler(logging.StreamHandler):
    """Writes through tqdm, so that a message lands above the bars instead of through them."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:
            self.handleError(record)
