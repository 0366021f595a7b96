"""The encoders a client may name, listed for people: the encoder service's catalogue with
the encoders of any plugin files, as a table (weights here or not, licence) or as the
Markdown of the docs."""

from __future__ import annotations

from pathlib import Path

from atlaspatch.client.in_process import service_libraries


def encoders_listing(
    plugins: tuple[Path, ...],
    weights_dir: Path | None,
    markdown: bool = False,
    parity_files: tuple[Path, ...] = (),
) -> str:
    with service_libraries("Plugin encoders"):
        from atlaspatch.encoder_service.plugins.loading import registry_with_plugins

        registry = registry_with_plugins(plugins, "cpu", "float32", 1)
    if markdown:
        from atlaspatch.encoder_service.listing.markdown import encoders_markdown, read_parity

        return encoders_markdown(registry, read_parity(list(parity_files)))
    from atlaspatch.encoder_service.listing.table import encoders_table

    return encoders_table(registry, weights_dir) + "\n"
