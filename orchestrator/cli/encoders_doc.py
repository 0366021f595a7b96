"""The encoder catalogue as a Markdown table (docs/encoders.md): each encoder's facts from its
registry entry, with the verdict of the parity harness (tests/parity) against AtlasPatch
1.1.0's own builders, read from the harness's JSON rows."""

from __future__ import annotations

import json
from pathlib import Path

from encoder_service.registry import EncoderRegistry
from encoder_service.spec import EncoderSpec

COLUMNS = (
    "name", "dim", "input", "resize, crop", "interpolation", "mean / std", "pooling",
    "weights", "licence", "parity", "largest difference",
)  # fmt: skip


def read_parity(paths: list[Path]) -> dict[str, dict]:
    """Rows by encoder name; a later file's row replaces an earlier one's."""
    rows: dict[str, dict] = {}
    for path in paths:
        if path.is_file():
            rows.update({row["name"]: row for row in json.loads(path.read_text())})
    return rows


def encoders_markdown(registry: EncoderRegistry, parity: dict[str, dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for name in registry.names():
        spec = registry.spec(name)
        if spec is not None:
            lines.append("| " + " | ".join(_row(spec, parity.get(name))) + " |")
    return "\n".join(lines) + "\n"


def _row(spec: EncoderSpec, parity: dict | None) -> list[str]:
    crop = (
        "whole patch"
        if spec.resize_size == spec.input_size
        else f"{spec.resize_size}, centre {spec.input_size}"
    )
    statistics = f"{_numbers(spec.mean)} / {_numbers(spec.std)}"
    pooling = spec.pooling if spec.pooling != "model" else _model_pooling(spec)
    verdict, difference = _parity(parity)
    return [
        f"`{spec.name}`", str(spec.embedding_dim), str(spec.input_size), crop,
        spec.interpolation, statistics, pooling, spec.weights_label.replace("|", "/"),
        spec.license or "?", verdict, difference,
    ]  # fmt: skip


def _numbers(values: tuple[float, ...]) -> str:
    return ",".join(f"{v:g}" for v in values)


def _model_pooling(spec: EncoderSpec) -> str:
    output = spec.model_kwargs.get("output") or spec.model_kwargs.get("global_pool")
    return f"model ({output})" if output else "model"


def _parity(row: dict | None) -> tuple[str, str]:
    if row is None:
        return "not run", ""
    verdict = row["verdict"]
    if verdict in ("pass", "fail"):
        figures = f"cos ≥ {row['min_cosine']:.7f}, {100 * row['max_diff_of_spread']:.2f}% of spread"
        return f"{verdict} ({row.get('date', '')})".replace(" ()", ""), figures
    reason = (row.get("reason") or row.get("error") or "").replace("|", "/").splitlines()[0]
    return verdict, reason[:160]
