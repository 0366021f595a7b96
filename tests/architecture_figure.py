"""docs/architecture.svg, drawn from the code: the parts as boxes in their layers (with their
rooms), and an arrow wherever a part imports another (from tests/test_architecture.py's
module graph). `python -m tests.architecture_figure` writes it; a test checks it is current and
that every arrow points down."""

from __future__ import annotations

import sys
from xml.sax.saxutils import escape

from tests.test_architecture import HOSTS, PACKAGES, REPO, module_graph

FIGURE = REPO / "docs" / "architecture.svg"
API, ENCODER, SEGMENTER, CLIENT, ORCHESTRATOR = PACKAGES
# Each part: its layer (0 on top) and box (x, y, width, height).
BOXES = {
    ORCHESTRATOR: (0, (40, 20, 680, 64)),
    CLIENT: (1, (140, 140, 580, 56)),
    ENCODER: (2, (200, 260, 300, 64)),
    SEGMENTER: (2, (520, 260, 200, 64)),
    API: (3, (40, 390, 680, 56)),
}
# The x of each arrow's vertical run (chosen so that none crosses a box).
LANES = {
    (ORCHESTRATOR, CLIENT): 430,
    (ORCHESTRATOR, API): 90,
    (CLIENT, ENCODER): 350,
    (CLIENT, SEGMENTER): 620,
    (CLIENT, API): 170,
    (ENCODER, API): 350,
    (SEGMENTER, API): 620,
}
HOSTED = (ENCODER, SEGMENTER)  # what `atlaspatch serve` and `export-triton` start


def part_of(module: str) -> str:
    return max((p for p in PACKAGES if module == p or module.startswith(p + ".")), key=len)


def part_edges() -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """The parts each part imports: (ordinary edges, edges only the hosting commands make)."""
    hosts = {
        f"{ORCHESTRATOR}."
        + path.removeprefix("orchestrator/").removesuffix(".py").replace("/", ".")
        for path in HOSTS
    }
    edges, hosting = set(), set()
    for module, imported in module_graph().items():
        for other in imported:
            edge = (part_of(module), part_of(other))
            if edge[0] != edge[1]:
                (hosting if module in hosts and edge[1] in HOSTED else edges).add(edge)
    return edges, hosting - edges


def rooms(part: str) -> list[str]:
    folder = PACKAGES[part]
    return sorted(
        path.name
        for path in folder.iterdir()
        if path.is_dir() and (path / "__init__.py").exists() and path.name != "v1"
    )


def svg() -> str:
    edges, hosting = part_edges()
    unknown = sorted(edges - set(LANES))
    if unknown:
        raise ValueError(f"no route drawn for {unknown}: add it to LANES (if it belongs)")
    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="760" height="470" '
        'font-family="sans-serif" font-size="12">',
        '<defs><marker id="head" markerWidth="8" markerHeight="8" refX="7" refY="4" '
        'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#333"/></marker></defs>',
        '<rect width="760" height="470" fill="white"/>',
    ]
    for part, (_, (x, y, width, height)) in BOXES.items():
        out.append(
            f'<rect x="{x}" y="{y}" width="{width}" height="{height}" rx="6" '
            'fill="#eef3fb" stroke="#36c"/>'
        )
        out.append(f'<text x="{x + 10}" y="{y + 22}" font-weight="bold">{escape(part)}</text>')
        listed = ", ".join(rooms(part))
        out.append(f'<text x="{x + 10}" y="{y + 42}" fill="#555">{escape(listed)}</text>')
    for source, target in sorted(edges):
        lane = LANES[(source, target)]
        top = BOXES[source][1][1] + BOXES[source][1][3]
        bottom = BOXES[target][1][1]
        out.append(
            f'<line x1="{lane}" y1="{top}" x2="{lane}" y2="{bottom - 2}" stroke="#333" '
            'marker-end="url(#head)"/>'
        )
    if hosting:
        y = 228
        out.append(f'<polyline points="720,52 740,52 740,{y} 470,{y}" fill="none" '
                   'stroke="#999" stroke-dasharray="4 3"/>')  # fmt: skip
        for _, target in sorted(hosting):
            x = BOXES[target][1][0] + BOXES[target][1][2] - 30
            out.append(
                f'<line x1="{x}" y1="{y}" x2="{x}" y2="{BOXES[target][1][1] - 2}" '
                'stroke="#999" stroke-dasharray="4 3" marker-end="url(#head)"/>'
            )
        out.append(
            f'<text x="530" y="{y - 6}" fill="#777">atlaspatch serve, export-triton '
            "(hosting)</text>"
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    FIGURE.write_text(svg())
    print(FIGURE, file=sys.stderr)
