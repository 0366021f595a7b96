"""The chart's workloads run: rendered with its CPU example, the segmenter and encoder Deployments
are played by `podman kube play`, pass their probes, and the orchestrator Job's pod template runs
against them, once per completion index.

podman has no Services and no Jobs, so the test stands in for the two: a Service's name resolves
to the address of the pod its selector picks (--add-host), and each index of the Indexed Job is
its pod template's container run with JOB_COMPLETION_INDEX set, as Kubernetes sets it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.deploy_helpers import CHART, render
from tests.images import podman as pm
from tests.images.conftest import FIGURES, writable_output
from tests.output_helpers import assert_same_result

SHARDS = 2


def rendered(images: dict[str, str]) -> list[dict]:
    values = yaml.safe_load((CHART / "examples" / "cpu.yaml").read_text())
    for name in ("services", "orchestrator"):
        repository, tag = images[name].rsplit(":", 1)
        values.setdefault("image", {})[name] = {
            "repository": repository,
            "tag": tag,
            "pullPolicy": "Never",
        }
    # No weights are needed on the CPU (efficientnet_lite0's come with the image).
    values["weights"] = {"volume": {"persistentVolumeClaim": None, "emptyDir": {}}}
    values["orchestrator"]["shards"] = SHARDS
    return render(values)


def probe_command(container: dict) -> list[str]:
    """What the kubelet runs for the readiness probe: an exec command as it is; a gRPC probe is
    the gRPC health protocol, which `atlaspatch serve health` speaks."""
    probe = container["readinessProbe"]
    if "exec" in probe:
        return probe["exec"]["command"]
    return ["atlaspatch", "serve", "health", f"127.0.0.1:{probe['grpc']['port']}"]


@pytest.fixture(scope="module")
def played(images: dict[str, str], network: str, tmp_path_factory: pytest.TempPathFactory):
    docs = rendered(images)
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == {
        "atlaspatch-segmenter",
        "atlaspatch-encoder",
    }
    manifest = tmp_path_factory.mktemp("kube") / "deployments.yaml"
    manifest.write_text(yaml.safe_dump_all(deployments))
    pm.podman("kube", "play", "--network", network, manifest)
    try:
        yield docs
    finally:
        pm.podman("kube", "down", manifest, check=False)


def test_chart_workloads_run_and_the_job_writes_what_one_process_writes(
    played: list[dict],
    network: str,
    images: dict[str, str],
    slides: Path,
    in_process_h5: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    hosts = {}
    for deployment in (d for d in played if d["kind"] == "Deployment"):
        pod = f"{deployment['metadata']['name']}-pod-0"
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        name = f"{pod}-{container['name']}"
        seconds = pm.wait_healthy(name, probe_command(container))
        FIGURES[f"helm_{container['name']}_ready_seconds"] = round(seconds, 1)
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        for service in (d for d in played if d["kind"] == "Service"):
            if service["spec"]["selector"].items() <= labels.items():
                ports = {p["name"] for p in container["ports"]}
                assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports
                hosts[service["metadata"]["name"]] = pm.address(name, network)
    assert set(hosts) == {"atlaspatch-segmenter", "atlaspatch-encoder"}

    job = next(d for d in played if d["kind"] == "Job")
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["completions"] == SHARDS
    out = writable_output(tmp_path_factory, "job-out")
    for index in range(SHARDS):
        run_job_pod(job["spec"]["template"]["spec"], index, hosts, network, slides, out)
    assert_same_result(out / "patches" / in_process_h5.name, in_process_h5)


def run_job_pod(
    pod: dict, index: int, hosts: dict[str, str], network: str, slides: Path, out: Path
) -> None:
    container = pod["containers"][0]
    sources = {v["name"]: v for v in pod["volumes"]}
    argv = ["run", "--rm", "--label", pm.LABEL, "--network", network]
    argv += [f"--add-host={name}:{address}" for name, address in hosts.items()]
    security = pod["securityContext"]
    argv += ["--user", f"{security['runAsUser']}:{security['runAsGroup']}"]
    if container["securityContext"].get("readOnlyRootFilesystem"):
        argv.append("--read-only")
    argv += ["--cap-drop=all", "--security-opt=no-new-privileges"]
    for mount in container["volumeMounts"]:
        source = sources[mount["name"]]
        if "emptyDir" in source:
            argv.append(f"--tmpfs={mount['mountPath']}")
            continue
        # The chart's two claims, bound to this machine's folders.
        claim = source["persistentVolumeClaim"]["claimName"]
        host = {"atlaspatch-slides": slides, "atlaspatch-output": out}[claim]
        mode = "ro" if mount.get("readOnly") else "rw"
        argv.append(f"--volume={host}:{mount['mountPath']}:{mode}")
    env = {e["name"]: e["value"] for e in container["env"]} | {"JOB_COMPLETION_INDEX": str(index)}
    argv += [f"--env={name}={value}" for name, value in env.items()]
    assert "command" not in container, "the image's entrypoint runs the args"
    pm.podman(*argv, container["image"], *container["args"], timeout=900)
