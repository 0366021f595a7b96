"""The generated pages of the documentation site: docs/reference/cli.md, one section per
`atlaspatch` command with its help and a table of its options, read from the Click command
tree itself so the page cannot drift from `--help`.

    python docs/generate.py [OUTDIR]      # OUTDIR defaults to docs/reference
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from atlaspatch.orchestrator.cli import main

DEFAULT_OUTDIR = Path(__file__).resolve().parent / "reference"
# A default the help text states itself, where click has none to show: "  [default: ...]".
STATED_DEFAULT = re.compile(r"\s*\[default: ([^\]]*)\]\s*$")
# A context as a run makes it (context_settings applied), without checking any argument.
QUIET = {"resilient_parsing": True}


def subcommands(group: click.Group, ctx: click.Context) -> dict[str, click.Command]:
    """The group's commands that `--help` lists, in name order."""
    found = {name: group.get_command(ctx, name) for name in sorted(group.list_commands(ctx))}
    return {name: sub for name, sub in found.items() if sub is not None and not sub.hidden}


def commands(
    command: click.Command, ctx: click.Context
) -> Iterator[tuple[click.Command, click.Context]]:
    """Every command under `command`, groups before their subcommands."""
    yield command, ctx
    if isinstance(command, click.Group):
        for name, sub in subcommands(command, ctx).items():
            yield from commands(sub, sub.make_context(name, [], parent=ctx, **QUIET))


def escape(text: str) -> str:
    """Text for a Markdown table cell: code spans kept, markup characters outside them
    escaped, so `<stem>`, `ATLASPATCH_*` and `a|b` print as typed."""
    parts = text.split("`")
    for index in range(0, len(parts), 2):  # outside code spans
        part = parts[index].replace("\\", "\\\\").replace("&", "&amp;")
        part = part.replace("<", "&lt;").replace(">", "&gt;")
        parts[index] = re.sub(r"([*_\[\]])", r"\\\1", part)
    return "`".join(parts).replace("|", "\\|")


def help_markdown(command: click.Command) -> str:
    """The command's help as Markdown: click's paragraphs joined, its `\\b` blocks kept as
    they are typed (in a code block)."""
    text = inspect.cleandoc(command.help or command.short_help or "").split("\f")[0]
    blocks = []
    for paragraph in text.split("\n\n"):
        if paragraph.startswith("\b\n"):
            blocks.append("```text\n" + paragraph[2:] + "\n```")
        else:
            blocks.append(escape(" ".join(paragraph.split())))
    return "\n\n".join(blocks)


def option_row(option: click.Option, ctx: click.Context) -> str:
    extra = option.get_help_extra(ctx)
    names = ", ".join(f"`{name}`" for name in option.opts + option.secondary_opts)
    if option.is_flag and not option.count:
        kind = "flag"
    elif isinstance(option.type, click.Choice):
        kind = "one of " + ", ".join(f"`{choice}`" for choice in option.type.choices)
    else:
        kind = f"`{option.make_metavar(ctx)}`"
    if "range" in extra:
        kind += f" ({escape(extra['range'])})"
    help_text = option.help or ""
    default = extra.get("default", "")
    if option.is_flag and option.secondary_opts and default:
        default = "--" + default  # click names the flag a boolean defaults to without dashes
    stated = STATED_DEFAULT.search(help_text)
    if stated:
        help_text, default = help_text[: stated.start()], default or stated.group(1)
    envvars = ", ".join(f"`{name}`" for name in extra.get("envvars", ()))
    default = f"`{default}`" if default and " " not in default else escape(default)
    if "required" in extra:
        default = "required"
    cells = [names, kind, default, escape(help_text), envvars]
    return "| " + " | ".join(cells) + " |"


def anchor(command_path: str) -> str:
    """The id MkDocs gives the heading of this command's section."""
    return command_path.replace(" ", "-")


def argument_line(argument: click.Argument, ctx: click.Context) -> str:
    metavar = argument.make_metavar(ctx)
    envvar = f" (environment variable `{argument.envvar}`)" if argument.envvar else ""
    return f"- `{metavar}` ({escape(argument.type.name)}){envvar}"


def command_section(command: click.Command, ctx: click.Context) -> str:
    path = ctx.command_path
    usage = " ".join([path, *command.collect_usage_pieces(ctx)])
    lines = [f"## `{path}`", "", "```text", usage, "```", "", help_markdown(command), ""]
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    if arguments:
        lines += ["Arguments:", ""]
        lines += [argument_line(argument, ctx) for argument in arguments]
        lines.append("")
    help_option = command.get_help_option(ctx)
    options = [
        p
        for p in command.get_params(ctx)
        if isinstance(p, click.Option) and not p.hidden and p is not help_option
    ]
    if options:
        lines += [
            "| option | type | default | meaning | environment variable |",
            "|---|---|---|---|---|",
        ]
        lines += [option_row(option, ctx) for option in options]
        lines.append("")
    if isinstance(command, click.Group):
        links = [f"[`{name}`](#{anchor(f'{path} {name}')})" for name in subcommands(command, ctx)]
        lines += ["Commands: " + ", ".join(links) + ".", ""]
    return "\n".join(lines)


def cli_reference() -> str:
    root = main.make_context("atlaspatch", [], **QUIET)
    header = (
        "# Command-line reference\n\n"
        "Generated by `make docs` (`python docs/generate.py`) from the commands themselves;"
        " `atlaspatch COMMAND --help` prints the same. An option with an environment variable"
        " beside it can also be set by that variable.\n"
    )
    sections = [command_section(command, ctx) for command, ctx in commands(main, root)]
    return header + "\n" + "\n".join(sections)


def write_pages(outdir: Path) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    page = outdir / "cli.md"
    page.write_text(cli_reference(), encoding="utf-8")
    return [page]


if __name__ == "__main__":
    for written in write_pages(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTDIR):
        print(f"wrote {written}")
