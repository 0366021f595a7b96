"""The one place where the services' errors become messages a person reads, and where the
commands' logging is set up."""

from __future__ import annotations

import logging
from typing import Any

import click

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
    """Debug logging with --verbose, else `quiet` and above."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else quiet,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
