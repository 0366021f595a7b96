"""The registry as a table a person can read (`atlaspatch encoders`)."""

from __future__ import annotations

from pathlib import Path

from atlaspatch.encoder_service.networks.external import installed
from atlaspatch.encoder_service.networks.weights import WeightsNotFound, resolve_weights
from atlaspatch.encoder_service.registry import EncoderRegistry

COLUMNS = ("name", "dim", "weights from", "weights here", "licence", "also needs")


def encoders_table(registry: EncoderRegistry, weights_dir: Path | None) -> str:
    rows = [COLUMNS]
    for name in registry.names():
        spec = registry.spec(name)
        if spec is None:
            rows.append((name, str(registry.embedding_dim(name)), "plugin", "yes", "", ""))
            continue
        try:
            found = resolve_weights(spec, weights_dir, allow_download=False)
            here = f"yes ({found.origin})"
        except WeightsNotFound:
            here = "no"
        needs = spec.needs if spec.builder == "external" and not installed(spec) else ""
        licence = spec.license or "?"
        rows.append((name, str(spec.embedding_dim), spec.weights_label, here, licence, needs))
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
