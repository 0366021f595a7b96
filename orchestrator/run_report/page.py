"""`<output>/report.html`: one page, no network, the pictures beside it in `report_files/`.

Rows are written as HTML (the page reads without scripts); a small script sorts them by a
column and filters them (failed, no tissue, few patches, a name). The filter is kept in the
address (`report.html#failed`), so a link can open the page filtered.
"""

from __future__ import annotations

import datetime as dt
import html
import statistics
from pathlib import Path

from atlaspatch.orchestrator.output.atomic import write_bytes_whole
from atlaspatch.orchestrator.run_report.page_template import SCRIPT, STYLE
from atlaspatch.orchestrator.run_report.rows import RunOverview, SlideRow, gather
from atlaspatch.orchestrator.settings import REPORT_PAGE

FEW_PATCHES = 50  # the filter's default; the page lets the reader change it
STAGES = ("open_and_thumbnail", "segmentation", "finish")
STATUSES = ("done", "skipped", "failed", "unknown")


def write_page(output: Path) -> Path:
    """The page of `output` from what is there now; replaces an earlier one whole."""
    overview = gather(output)
    path = output / REPORT_PAGE
    write_bytes_whole(path, render(overview, output).encode("utf-8"))
    return path


def render(overview: RunOverview, output: Path) -> str:
    made = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = f"AtlasPatch QC: {output.absolute().name}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>{_e(title)}</h1>
<p class="where">{_e(str(output.absolute()))} &middot; page made {made}</p>
{_summary(overview)}
</header>
<nav id="filters">
<label>Show <select id="show">
<option value="all">every slide</option>
<option value="failed">failed</option>
<option value="no-tissue">no tissue</option>
<option value="few-patches">few patches</option>
<option value="unusable">unusable patches</option>
</select></label>
<label>fewer than <input id="few" type="number" min="1" value="{FEW_PATCHES}"> patches</label>
<label>Name <input id="name" type="search" placeholder="part of a slide's name"></label>
<span id="shown" aria-live="polite"></span>
</nav>
<table id="slides">
<thead><tr>
<th data-kind="text">Slide</th><th>Picture</th><th data-kind="text">Status</th>
<th data-kind="number">Tissue %</th><th data-kind="number">Patches</th>
<th data-kind="number" title="patches a quality score flags">Unusable</th>
<th data-kind="number">Mag.</th><th data-kind="number">mpp</th>
<th data-kind="text">Scale from</th><th data-kind="number">Seconds</th>
<th data-kind="text">Reason</th>
</tr></thead>
<tbody>
{"".join(_row(row) for row in overview.rows)}
</tbody>
</table>
<p id="empty" hidden>No slide matches the filter.</p>
<script>{SCRIPT}</script>
</body>
</html>
"""


def _summary(overview: RunOverview) -> str:
    rows = overview.rows
    counts = {status: sum(row.status == status for row in rows) for status in STATUSES}
    patches = sum(row.patches or 0 for row in rows)
    unusable = sum(row.unusable or 0 for row in rows)
    tissue = [row.tissue_percent for row in rows if row.tissue_percent is not None]
    median = f"{statistics.median(tissue):.1f} %" if tissue else "n/a"
    facts = [
        ("slides", str(len(rows))),
        *((status, str(count)) for status, count in counts.items() if count),
        ("patches", f"{patches:,}"),
        ("unusable", f"{unusable:,}"),
        ("median tissue", median),
    ]
    cells = "".join(
        f'<div class="fact {_e(name.replace(" ", "-"))}"><b>{_e(value)}</b> {_e(name)}</div>'
        for name, value in facts
    )
    runs = "".join(
        f"<li>{_e(str(run.get('command')))} {_e(str(run.get('started', ''))[:19])} UTC, "
        f"{float(run.get('seconds') or 0):.0f} s: {_e(_counts(run.get('counts') or {}))}"
        f"{_e(' (shard ' + run['shard'] + ')' if run.get('shard') else '')}</li>"
        for run in overview.runs
    )
    count = len(overview.runs)
    listed = f"<details><summary>{count} run{'s' * (count != 1)}</summary><ul>{runs}</ul></details>"
    return f'<section id="summary">{cells}</section>{listed if overview.runs else ""}'


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in counts.items() if n) or "no slides"


def _row(row: SlideRow) -> str:
    seconds = sum(row.seconds.get(stage, 0.0) for stage in STAGES) if row.seconds else None
    stage_notes = ", ".join(f"{stage} {value:.2f} s" for stage, value in row.seconds.items())
    no_tissue = row.tissue_percent == 0 or row.patches == 0 or "no tissue" in row.reason
    picture = (
        f'<a href="{_e(row.picture)}"><img src="{_e(row.picture)}" loading="lazy" '
        f'alt="{_e(row.stem)}: tissue outlined, kept patches shaded"></a>'
        if row.picture
        else '<span class="none">no picture</span>'
    )
    links = f' <a class="geojson" href="{_e(row.geojson)}">GeoJSON</a>' if row.geojson else ""
    attributes = (
        f'data-status="{_e(row.status)}" data-no-tissue="{int(no_tissue)}" '
        f'data-patches="{"" if row.patches is None else row.patches}" '
        f'data-unusable="{row.unusable or 0}" data-name="{_e(row.stem)}"'
    )
    return (
        f'<tr class="{_e(row.status)}" {attributes}>'
        f"<td>{_e(row.slide or row.stem)}{links}</td>"
        f"<td>{picture}</td>"
        f'<td class="status">{_e(row.status)}</td>'
        f"{_number(row.tissue_percent, '{:.1f}')}"
        f"{_number(row.patches, '{:,}')}"
        f"{_number(row.unusable, '{:,}')}"
        f"{_number(row.magnification, '{:g}x')}"
        f"{_number(row.mpp, '{:.4f}')}"
        f"<td>{_e(row.magnification_source)}</td>"
        f"{_number(seconds, '{:.2f}', title=stage_notes)}"
        f'<td class="reason">{_e(row.reason)}</td>'
        "</tr>\n"
    )


def _number(value: float | int | None, form: str, title: str = "") -> str:
    hint = f' title="{_e(title)}"' if title else ""
    if value is None:
        return f'<td data-value=""{hint}></td>'
    return f'<td class="number" data-value="{value}"{hint}>{_e(form.format(value))}</td>'


def _e(text: str) -> str:
    return html.escape(text, quote=True)
