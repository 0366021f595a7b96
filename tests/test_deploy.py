"""Deployment files checked without docker or helm: the chart rendered by helm-python-sdk and
validated against Kubernetes' schemas, the values schema refusing bad values, Dockerfiles
copying files that exist and naming entrypoints that answer, the compose file and SLURM
templates using options the CLI really has."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import click
import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from orchestrator.cli import main
from orchestrator.serving.background import BackgroundServer
from orchestrator.serving.server import ServerSettings
from orchestrator.serving.services import segmenter_server
from orchestrator.shards import shard_from_environment

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "helm" / "atlaspatch"
EXAMPLES = sorted((CHART / "examples").glob("*.yaml"))
KUBERNETES = "1.33.0"
ATLASPATCH = REPO / ".venv" / "bin" / "atlaspatch"


def render(values: dict | None = None) -> list[dict]:
    chart = helm.Chart.load(CHART)
    try:
        files = chart.render(values or {}, name="atlaspatch", namespace="pathology")
    finally:
        chart.close()
    return [
        doc
        for path, text in sorted(files.items())
        if path.endswith(".yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def example(name: str) -> dict:
    return yaml.safe_load((CHART / "examples" / f"{name}.yaml").read_text())


def find(docs: list[dict], kind: str, name: str) -> dict:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind} {name}: {len(matches)} found"
    return matches[0]


def container(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]["containers"][0]


def env_of(workload: dict) -> dict[str, str]:
    return {e["name"]: e.get("value", "(from secret)") for e in container(workload).get("env", [])}


def parse_cli(args: list[str]) -> click.Context:
    """Parse arguments with the real CLI (types, choices, unknown options) without running."""
    command: click.Command = main
    ctx = main.make_context("atlaspatch", list(args), resilient_parsing=False)
    while isinstance(command, click.Group):
        name, command, rest = command.resolve_command(ctx, ctx.protected_args + ctx.args)
        assert command is not None, f"unknown command {name}"
        ctx = command.make_context(name, rest, parent=ctx)
    return ctx


def known_env_vars() -> set[str]:
    found = {"ATLASPATCH_SHARDS"}  # read by the shard logic, not by an option

    def walk(command: click.Command) -> None:
        for param in command.params:
            envvars = param.envvar if isinstance(param.envvar, list | tuple) else [param.envvar]
            found.update(e for e in envvars if e)
        if isinstance(command, click.Group):
            for sub in command.commands.values():
                walk(sub)

    walk(main)
    return found


# --- Helm ---------------------------------------------------------------------------------


def test_chart_lints_clean() -> None:
    report = helm.lint(CHART, strict=True)
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not report["errors"] and not problems, report


@pytest.mark.parametrize("values_file", [None, *EXAMPLES], ids=lambda p: p.stem if p else "default")
def test_rendered_manifests_are_valid_kubernetes(values_file: Path | None) -> None:
    values = yaml.safe_load(values_file.read_text()) if values_file else {}
    docs = render(values)
    assert docs
    for doc in docs:
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "atlaspatch"
        assert labels["app.kubernetes.io/instance"] == "atlaspatch"
        assert "app.kubernetes.io/component" in labels
        if doc["kind"] == "ServiceMonitor":  # a CRD: no schema in kubernetes-validate
            assert doc["apiVersion"] == "monitoring.coreos.com/v1"
            continue
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_default_services_use_gpus_grpc_probes_and_drain() -> None:
    docs = render()
    for component, port in [("segmenter", 50052), ("encoder", 50051)]:
        deployment = find(docs, "Deployment", f"atlaspatch-{component}")
        pod = deployment["spec"]["template"]["spec"]
        main_container = container(deployment)
        assert main_container["resources"]["limits"]["nvidia.com/gpu"] == 1
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert main_container[probe]["grpc"] == {"port": port}
        assert pod["terminationGracePeriodSeconds"] > int(
            env_of(deployment)["ATLASPATCH_GRACE_SECONDS"]
        )
        assert pod["securityContext"]["runAsNonRoot"] is True
        service = find(docs, "Service", f"atlaspatch-{component}")
        grpc_port = next(p for p in service["spec"]["ports"] if p["name"] == "grpc")
        assert grpc_port["port"] == port and grpc_port["appProtocol"] == "kubernetes.io/h2c"
        assert (
            find(docs, "PodDisruptionBudget", f"atlaspatch-{component}")["spec"]["minAvailable"]
            == 1
        )
        # Every ATLASPATCH_* variable the chart sets is one the CLI reads.
        assert set(env_of(deployment)) <= known_env_vars()
    assert not [d for d in docs if d["kind"] in ("Job", "HorizontalPodAutoscaler", "Secret")]


def test_gpu_example_autoscales_on_the_queue() -> None:
    docs = render(example("gpu"))
    hpa = find(docs, "HorizontalPodAutoscaler", "atlaspatch-encoder")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == "atlaspatch-encoder"
    metric = hpa["spec"]["metrics"][0]["pods"]
    assert metric["metric"]["name"] == "atlaspatch_queue_patches"
    encoder = find(docs, "Deployment", "atlaspatch-encoder")
    assert "replicas" not in encoder["spec"]  # the autoscaler owns it
    assert encoder["spec"]["template"]["spec"]["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert env_of(encoder)["ATLASPATCH_ENCODERS"] == "uni_v1,efficientnet_lite0"
    monitor = find(docs, "ServiceMonitor", "atlaspatch-encoder")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_triton_example_points_the_services_at_triton() -> None:
    docs = render(example("triton"))
    triton_service = find(docs, "Service", "atlaspatch-triton")
    port = next(p["port"] for p in triton_service["spec"]["ports"] if p["name"] == "grpc")
    for component in ("encoder", "segmenter"):
        env = env_of(find(docs, "Deployment", f"atlaspatch-{component}"))
        assert env["ATLASPATCH_BACKEND"] == "triton"
        assert env["ATLASPATCH_TRITON_URL"] == f"atlaspatch-triton:{port}"
    triton = find(docs, "Deployment", "atlaspatch-triton")
    assert container(triton)["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert "nvidia.com/gpu" not in container(find(docs, "Deployment", "atlaspatch-encoder"))[
        "resources"
    ].get("limits", {})


def test_tls_example_uses_secrets_and_tls_probes() -> None:
    docs = render(example("tls"))
    encoder = find(docs, "Deployment", "atlaspatch-encoder")
    probe = container(encoder)["readinessProbe"]["exec"]["command"]
    assert probe[:3] == ["atlaspatch", "serve", "health"] and probe[3].startswith("grpcs://")
    parse_cli(probe[1:])
    assert env_of(encoder)["ATLASPATCH_TOKEN"] == "(from secret)"
    volumes = {v["name"]: v for v in encoder["spec"]["template"]["spec"]["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == "atlaspatch-tls"
    job = next(d for d in docs if d["kind"] == "Job")
    env = env_of(job)
    assert env["ATLASPATCH_ENCODER_URL"] == "grpcs://atlaspatch-encoder:50051"
    assert env["ATLASPATCH_TLS_CA"] == "/etc/atlaspatch/tls/ca.crt"
    assert not [d for d in docs if d["kind"] == "Secret"]  # existing Secrets are used


def test_inline_secrets_are_made_and_required() -> None:
    docs = render({"auth": {"enabled": True, "token": "s3cret"}})
    secret = find(docs, "Secret", "atlaspatch-token")
    assert "token" in secret["data"]
    with pytest.raises(helm.HelmError, match="auth.token"):
        render({"auth": {"enabled": True}})


def test_orchestrator_is_an_indexed_job_of_shards() -> None:
    docs = render(example("many-shards"))
    job = next(d for d in docs if d["kind"] == "Job")
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert (spec["completions"], spec["parallelism"]) == (200, 20)
    env = env_of(job)
    # What each pod does with the index Kubernetes gives it.
    shard = shard_from_environment({"JOB_COMPLETION_INDEX": "199", **env})
    assert (shard.index, shard.count) == (199, 200)
    args = container(job)["args"]
    ctx = parse_cli(args)  # the real CLI accepts the Job's command line
    assert ctx.params["feature_extractors"] == "efficientnet_lite0,resnet50"
    assert set(env) <= known_env_vars()
    volumes = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
    assert volumes["slides"] == {
        "name": "slides",
        "nfs": {"server": "nfs.lab.internal", "path": "/exports/slides", "readOnly": True},
    }


@pytest.mark.parametrize(
    ("bad", "where"),
    [
        ({"encoder": {"maxBatchSize": 0}}, "maxBatchSize"),
        ({"encoder": {"batchSize": 8}}, "batchSize"),
        ({"encoder": {"device": "gpu"}}, "device"),
        ({"encoder": {"precision": "float8"}}, "precision"),
        ({"segmenter": {"tissueModel": "unet"}}, "tissueModel"),
        ({"orchestrator": {"shards": 0}}, "shards"),
        ({"orchestrator": {"slidesPath": "slides"}}, "slidesPath"),
        ({"triton": {"grpcPort": 70000}}, "grpcPort"),
        ({"image": {"services": {"tag": ""}}}, "tag"),
        ({"replicas": 2}, "replicas"),
    ],
)
def test_values_schema_rejects_bad_values(bad: dict, where: str) -> None:
    chart = helm.Chart.load(CHART)
    try:
        with pytest.raises(helm.HelmValuesError, match=where):
            chart.validate_schema(chart.merge_values(bad))
        chart.validate_schema(chart.merge_values({}))  # the defaults pass
    finally:
        chart.close()


def test_values_schema_is_draft_07_json() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["$schema"].startswith("http://json-schema.org/draft-07")
    assert schema["additionalProperties"] is False


# --- Dockerfiles and compose ----------------------------------------------------------------

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
    assert copies
    for arg in copies:
        words = [w for w in shlex.split(arg) if not w.startswith("--")]
        for source in words[:-1]:
            source = re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], source)
            assert (REPO / source).exists(), f"{dockerfile.name}: COPY {source} is missing"
    users = [arg for kind, arg in steps if kind == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image must not run as root"
    assert any(kind == "HEALTHCHECK" for kind, _ in steps)
    for kind, arg in steps:
        if kind == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], arg.split()[0])
            assert ":" in image and not image.endswith(":latest"), f"unpinned base {image}"


@pytest.mark.parametrize("name", ["services", "orchestrator"])
def test_dockerfile_entrypoints_answer_help(name: str) -> None:
    steps = instructions(REPO / "deploy" / "docker" / f"{name}.Dockerfile")
    assert len([1 for kind, _ in steps if kind == "FROM"]) >= 2, "multi-stage"
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
        variables = {k for k in service.get("environment", {}) if k.startswith("ATLASPATCH_")}
        assert variables <= known_env_vars() | {"ATLASPATCH_HEALTH_URL"}, name

    def with_defaults(word: str) -> str:
        return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", word)

    orchestrator = services["orchestrator"]
    parse_cli([with_defaults(w) for w in orchestrator["command"]])
    assert orchestrator["depends_on"]["encoder"]["condition"] == "service_healthy"
    assert services["triton"]["profiles"] == ["triton"]


# --- SLURM ------------------------------------------------------------------------------------

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


# --- the health check the images and probes use ----------------------------------------------


def test_serve_health_reports_serving_and_unreachable() -> None:
    with BackgroundServer(lambda: segmenter_server(ServerSettings(), "otsu")) as server:
        up = CliRunner().invoke(main, ["serve", "health", server.address])
        assert up.exit_code == 0 and "SERVING" in up.output
    down = CliRunner().invoke(main, ["serve", "health", server.address, "--timeout", "1"])
    assert down.exit_code == 1 and "UNAVAILABLE" in down.output


def test_triton_image_command_uses_real_tritonserver_options() -> None:
    from orchestrator.serving.triton_local import TRITON_VENV, triton_env_ready

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
