"""The `atlaspatch` command line."""

from orchestrator.cli.main import main

__all__ = ["main"]
