"""Checking deployment files against the real CLI: its parser and the variables it reads."""

from __future__ import annotations

from pathlib import Path

import click
import helm_python as helm
import yaml

from atlaspatch.orchestrator.cli import main

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "helm" / "atlaspatch"


def render(values: dict | None = None) -> list[dict]:
    """The chart's manifests for these values, as Helm renders them."""
    chart = helm.Chart.load(CHART)
    try:
        files = chart.render(values or {}, name="atlaspatch", namespace="pathology")
    finally:
        chart.close()
    return [
        doc
        for path, text in sorted(files.items())
        if path.endswith(".yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def parse_cli(args: list[str]) -> click.Context:
    """Parse arguments with the real CLI (types, choices, unknown options) without running."""
    command: click.Command = main
    ctx = main.make_context("atlaspatch", list(args), resilient_parsing=False)
    while isinstance(command, click.Group):
        name, command, rest = command.resolve_command(ctx, ctx.protected_args + ctx.args)
        assert command is not None, f"unknown command {name}"
        ctx = command.make_context(name, rest, parent=ctx)
    return ctx


def known_env_vars() -> set[str]:
    found = {"ATLASPATCH_SHARDS"}  # read by the shard logic, not by an option

    def walk(command: click.Command) -> None:
        for param in command.params:
            envvars = param.envvar if isinstance(param.envvar, list | tuple) else [param.envvar]
            found.update(e for e in envvars if e)
        if isinstance(command, click.Group):
            for sub in command.commands.values():
                walk(sub)

    walk(main)
    return found
