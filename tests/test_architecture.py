"""The parts' imports point one way, downward: orchestrator → client → the services → the
API (atlaspatch.api); client → the API for the wire. Read from the source with ast, so an
import inside a function counts as much as one at the top. And the parts are installed under
one import root, `atlaspatch`, each from its folder."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {
    "atlaspatch.api": REPO / "proto" / "atlaspatch_api",
    "atlaspatch.encoder_service": REPO / "encoder_service",
    "atlaspatch.segmenter_service": REPO / "segmenter_service",
    "atlaspatch.client": REPO / "client",
    "atlaspatch.orchestrator": REPO / "orchestrator",
}
API, ENCODER, SEGMENTER, CLIENT, ORCHESTRATOR = PACKAGES
# The names the parts had before they shared a root: importing one is a mistake.
OLD_NAMES = ("atlaspatch_api", "encoder_service", "segmenter_service", "client", "orchestrator")
# Each part, and the imports it may never make (a prefix forbids its submodules too).
FORBIDDEN = {
    API: (CLIENT, ORCHESTRATOR, ENCODER, SEGMENTER),
    ENCODER: (CLIENT, ORCHESTRATOR, SEGMENTER),
    SEGMENTER: (CLIENT, ORCHESTRATOR, ENCODER),
    # Clients never host a service.
    CLIENT: (ORCHESTRATOR, f"{API}.hosting.server", f"{API}.hosting.status"),
    # The orchestrator reaches the services through the client only. A top-level `proto`
    # module exists in other packages (proto-plus): never import one.
    ORCHESTRATOR: (ENCODER, SEGMENTER, "proto"),
}
# The commands that start a service or write its models for Triton are the services' own
# entry points, hosted by the one `atlaspatch` command: they may import what they host.
HOSTS = {"orchestrator/cli/serve.py", "orchestrator/cli/triton.py"}
MAX_LINES = 300


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def forbidden_edges(part: str, folder: Path, forbidden: tuple[str, ...]) -> list[str]:
    edges = []
    for path in sorted(folder.rglob("*.py")):
        if path.name.endswith(("_pb2.py", "_pb2_grpc.py")):
            continue
        banned = forbidden
        if str(path.relative_to(folder.parent)) in HOSTS:
            banned = tuple(bad for bad in forbidden if bad not in (ENCODER, SEGMENTER))
        for line, module in imported_modules(path):
            if any(module == bad or module.startswith(bad + ".") for bad in banned):
                edges.append(f"{path.relative_to(folder.parent)}:{line} ({part}) imports {module}")
    return edges


@pytest.mark.parametrize("part", list(PACKAGES))
def test_imports_point_downward(part: str) -> None:
    assert forbidden_edges(part, PACKAGES[part], (*FORBIDDEN.get(part, ()), *OLD_NAMES)) == []


def test_the_check_finds_a_forbidden_import(tmp_path: Path) -> None:
    service = tmp_path / "encoder_service"
    service.mkdir()
    (service / "ok.py").write_text("import numpy\nfrom atlaspatch.api import wire\n")
    (service / "bad.py").write_text(
        "def late():\n    from atlaspatch.client.remote import RemoteEncoders\n"
    )
    edges = forbidden_edges(ENCODER, service, FORBIDDEN[ENCODER])
    assert edges == [f"encoder_service/bad.py:2 ({ENCODER}) imports atlaspatch.client.remote"]


def test_every_part_is_installed_from_its_folder_under_one_root() -> None:
    import importlib

    for name, folder in PACKAGES.items():
        assert Path(importlib.import_module(name).__file__).parent == folder
    assert not (REPO / "proto" / "__init__.py").exists()


def test_every_folder_of_modules_is_a_listed_package() -> None:
    """A folder missing from pyproject's list would be absent from the wheel (the images)."""
    import tomllib

    listed = set(
        tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join((root, *path.parent.relative_to(folder).parts))
        for root, folder in PACKAGES.items()
        for path in folder.rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert found == listed


def test_no_module_is_over_300_lines() -> None:
    """Small modules, one idea each (generated stubs and benchmarks aside)."""
    folders = [*PACKAGES.values(), REPO / "tests"]
    long = [
        f"{path.relative_to(REPO)}: {lines}"
        for folder in folders
        for path in sorted(folder.rglob("*.py"))
        if "_pb2" not in path.name and (lines := len(path.read_text().splitlines())) > MAX_LINES
    ]
    assert long == []


def test_the_command_line_starts_without_the_heavy_libraries() -> None:
    """`atlaspatch --help` and `atlaspatch info` must start at once: the model libraries are
    imported by the commands that use them, when they run."""
    import subprocess
    import sys

    heavy = ("torch", "timm", "sam2", "tritonclient", "grpc", "h5py", "cv2")
    probe = (
        "import sys, atlaspatch.orchestrator.cli, atlaspatch.orchestrator.slides.info; "
        f"print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert loaded.stdout.split() == []


def module_graph() -> dict[str, set[str]]:
    """Each module of the parts, and the modules of the parts it imports (anywhere in it)."""
    paths = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            if path.name.endswith(("_pb2.py", "_pb2_grpc.py")):
                continue
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            paths[".".join([package, *parts])] = path
    graph = {}
    for name, path in paths.items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:  # `from package import module` names a module
                    full = f"{node.module}.{alias.name}"
                    imported.add(full if full in paths else node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
        graph[name] = {module for module in imported if module in paths and module != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or through others."""
    reaches = {name: set(graph[name]) for name in graph}
    for name in graph:  # the modules each reaches, by a walk from it
        pending = list(graph[name])
        while pending:
            for further in graph[pending.pop()] - reaches[name]:
                reaches[name].add(further)
                pending.append(further)
    groups = {frozenset([n, *(m for m in reaches[n] if n in reaches[m])]) for n in graph}
    return sorted(sorted(group) for group in groups if len(group) > 1)


def test_no_modules_import_each_other() -> None:
    assert cycles(module_graph()) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_the_encoder_catalogue_is_data_without_torch() -> None:
    import subprocess
    import sys

    probe = (
        "import sys; from atlaspatch.encoder_service.catalog import builtin_specs; "
        "assert len(builtin_specs()) > 60; print('torch' in sys.modules)"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert found.stdout.strip() == "False"


def test_the_architecture_figure_is_drawn_from_the_code_and_points_down() -> None:
    from tests.architecture_figure import BOXES, FIGURE, part_edges, svg

    edges, hosting = part_edges()
    assert all(BOXES[source][0] < BOXES[target][0] for source, target in edges | hosting)
    assert FIGURE.read_text() == svg(), "run `python -m tests.architecture_figure`"
