"""Docker files checked without docker: Dockerfiles copying files that exist and naming
entrypoints that answer, the compose file using options the CLI really has, the health check
the images and probes use, and the Triton image's command."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from atlaspatch.api.hosting.server import ServerSettings
from atlaspatch.orchestrator.cli import main
from atlaspatch.segmenter_service.server import segmenter_server
from tests.background_server import BackgroundServer
from tests.deploy_helpers import REPO, known_env_vars, parse_cli

ATLASPATCH = REPO / ".venv" / "bin" / "atlaspatch"
DOCKERFILES = sorted((REPO / "deploy" / "docker").glob("*.Dockerfile"))


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.stem)
def test_dockerfile_copies_files_that_exist(dockerfile: Path) -> None:
    steps = instructions(dockerfile)
    defaults = dict(arg.split("=", 1) for kind, arg in steps if kind == "ARG" and "=" in arg)
    copies = [arg for kind, arg in steps if kind == "COPY" and "--from=" not in arg]
    sources = [w for arg in copies for w in [w for w in shlex.split(arg) if w[:2] != "--"][:-1]]
    # Files a RUN step mounts from the build context.
    mounts = re.findall(r"--mount=type=bind,source=([^,\s]+)", " ".join(a for _, a in steps))
    assert sources or mounts
    for source in [*sources, *mounts]:
        source = re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], source)
        assert (REPO / source).exists(), f"{dockerfile.name}: {source} is missing"
    users = [arg for kind, arg in steps if kind == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image must not run as root"
    assert any(kind == "HEALTHCHECK" for kind, _ in steps)
    stages = {arg.split()[-1] for kind, arg in steps if kind == "FROM" and " AS " in arg.upper()}
    for kind, arg in steps:
        if kind == "FROM" and arg.split()[0] not in stages:
            image = re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], arg.split()[0])
            assert ":" in image and not image.endswith(":latest"), f"unpinned base {image}"


def target(dockerfile: Path, name: str) -> list[tuple[str, str]]:
    """The instructions of one stage of a multi-stage Dockerfile."""
    steps = instructions(dockerfile)
    starts = [i for i, (kind, arg) in enumerate(steps) if kind == "FROM"]
    for start, end in zip(starts, [*starts[1:], len(steps)], strict=True):
        if steps[start][1].split()[-1] == name:
            return steps[start:end]
    raise AssertionError(f"{dockerfile.name} has no stage {name}")


@pytest.mark.parametrize("name", ["services", "orchestrator"])
def test_dockerfile_entrypoints_answer_help(name: str) -> None:
    steps = target(REPO / "deploy" / "docker" / "atlaspatch.Dockerfile", name)
    base = {"services": "app", "orchestrator": "client-python"}[name]
    assert steps[-1][0] != "FROM" and steps[0][1].split()[0] == base, f"built on {base}"
    assert any(kind == "USER" and arg == "10001" for kind, arg in steps)
    entrypoint = json.loads(next(arg for kind, arg in steps if kind == "ENTRYPOINT"))
    command = json.loads(next(arg for kind, arg in steps if kind == "CMD"))
    healthcheck = next(arg for kind, arg in steps if kind == "HEALTHCHECK")
    checks = [entrypoint + command]
    if "CMD" in healthcheck:
        checks.append(json.loads(healthcheck.split("CMD", 1)[1]))
    for argv in checks:
        assert argv[0] == "atlaspatch"
        finished = subprocess.run(
            [str(ATLASPATCH), *[a for a in argv[1:] if a != "--help"], "--help"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert finished.returncode == 0, finished.stderr
        assert "Usage: atlaspatch" in finished.stdout


def test_compose_file_matches_the_images_and_the_cli() -> None:
    compose = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    assert {"segmenter", "encoder", "triton", "orchestrator"} <= set(services)
    for name in ("segmenter", "encoder", "triton"):
        devices = services[name]["deploy"]["resources"]["reservations"]["devices"]
        assert devices[0]["capabilities"] == ["gpu"]
    for name, service in services.items():
        dockerfile = REPO / "deploy" / service["build"]["context"] / service["build"]["dockerfile"]
        assert dockerfile.resolve().is_file(), f"{name}: {dockerfile}"
        if "target" in service["build"]:
            target(dockerfile, service["build"]["target"])
        variables = {k for k in service.get("environment", {}) if k.startswith("ATLASPATCH_")}
        assert variables <= known_env_vars() | {"ATLASPATCH_HEALTH_URL"}, name

    def with_defaults(word: str) -> str:
        return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", word)

    orchestrator = services["orchestrator"]
    parse_cli([with_defaults(w) for w in orchestrator["command"]])
    assert orchestrator["depends_on"]["encoder"]["condition"] == "service_healthy"
    assert services["triton"]["profiles"] == ["triton"]


# --- the health check the images and probes use ----------------------------------------------


def test_serve_health_reports_serving_and_unreachable() -> None:
    with BackgroundServer(lambda: segmenter_server(ServerSettings(), "otsu")) as server:
        up = CliRunner().invoke(main, ["serve", "health", server.address])
        assert up.exit_code == 0 and "SERVING" in up.output
    down = CliRunner().invoke(main, ["serve", "health", server.address, "--timeout", "1"])
    assert down.exit_code == 1 and "UNAVAILABLE" in down.output


def test_serve_health_checks_the_port_the_container_serves_on(monkeypatch) -> None:
    """The images' HEALTHCHECK names no address: the service's own ATLASPATCH_PORT decides."""
    monkeypatch.delenv("ATLASPATCH_HEALTH_URL", raising=False)
    with BackgroundServer(lambda: segmenter_server(ServerSettings(), "otsu")) as server:
        monkeypatch.setenv("ATLASPATCH_PORT", server.address.rsplit(":", 1)[1])
        up = CliRunner().invoke(main, ["serve", "health"])
        assert up.exit_code == 0 and f"127.0.0.1:{server.address.rsplit(':', 1)[1]}" in up.output


def test_triton_image_command_uses_real_tritonserver_options() -> None:
    from tests.local_triton import TRITON_VENV, triton_env_ready

    if not triton_env_ready():
        pytest.skip("no .venv-triton (make triton-env)")
    steps = instructions(REPO / "deploy" / "docker" / "triton.Dockerfile")
    assert json.loads(next(arg for kind, arg in steps if kind == "ENTRYPOINT")) == ["tritonserver"]
    python = str(TRITON_VENV / "bin" / "python")
    where = "import sysconfig as s; print(s.get_paths()['purelib'], s.get_config_var('LIBDIR'))"
    site, libdir = subprocess.run(
        [python, "-c", where], capture_output=True, text=True, check=True
    ).stdout.split()
    server = Path(site) / "pytriton" / "tritonserver" / "bin" / "tritonserver"
    usage = subprocess.run(
        [str(server), "--help"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # tritonserver prints its usage on stderr
        text=True,
        env={"LD_LIBRARY_PATH": f"{libdir}:{site}/nvidia_pytriton.libs"},
        timeout=60,
    ).stdout
    for argument in json.loads(next(arg for kind, arg in steps if kind == "CMD")):
        option = argument.split("=")[0]
        assert re.search(rf"^  {option}\b", usage, re.M), f"tritonserver has no {option}"
    # The repository's models import our packages with these requirements.
    assert "-r model-requirements.txt" in (REPO / "deploy/triton/requirements.txt").read_text()
