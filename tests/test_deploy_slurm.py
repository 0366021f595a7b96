"""The SLURM templates: valid bash that calls `atlaspatch` only with options the CLI really
has."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import click
import pytest

from atlaspatch.orchestrator.cli import main
from tests.deploy_helpers import REPO

SLURM = sorted((REPO / "deploy" / "slurm").glob("*.sh"))


@pytest.mark.parametrize("script", SLURM, ids=lambda p: p.stem)
def test_slurm_templates_use_real_options(script: Path) -> None:
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert "#SBATCH --job-name=" in text
    invocations = re.findall(r'"\$ATLASPATCH" ((?:[a-z][a-z-]* )+)(.*?)(?:&|\n\n|$)', text, re.S)
    assert invocations
    for words, rest in invocations:
        command: click.Command = main
        for word in words.split():
            command = command.commands[word]  # type: ignore[attr-defined]
        options = {opt for param in command.params for opt in param.opts}
        for option in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+)", rest):
            assert option in options, f"{script.name}: {' '.join(words.split())} has no {option}"
