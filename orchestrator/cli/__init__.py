"""The `atlaspatch` command line."""

from atlaspatch.orchestrator.cli.main import main

__all__ = ["main"]
