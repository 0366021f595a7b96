"""Reading the QC page back as data: its rows (each cell's text and the row's data
attributes), with the standard library's HTML parser."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

COLUMNS = (
    "slide",
    "picture",
    "status",
    "tissue",
    "patches",
    "unusable",
    "magnification",
    "mpp",
    "scale_from",
    "seconds",
    "reason",
)


class _Rows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict] = []
        self._in_body = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append({"data": dict(attrs), "cells": [], "images": []})
        elif self._in_body and tag == "td":
            self._cell = []
        elif self._in_body and tag == "img":
            self.rows[-1]["images"].append(dict(attrs)["src"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1]["cells"].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def page_rows(page: Path) -> dict[str, dict]:
    """Each row by its slide's stem: {column: text}, with `images` and `data`."""
    parser = _Rows()
    parser.feed(page.read_text())
    rows = {}
    for row in parser.rows:
        cells = dict(zip(COLUMNS, row["cells"], strict=True))
        rows[row["data"]["data-name"]] = {**cells, "images": row["images"], "data": row["data"]}
    return rows
