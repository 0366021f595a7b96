"""The Helm chart checked without helm: rendered by helm-python-sdk and validated against
Kubernetes' schemas, and the values schema refusing bad values."""

from __future__ import annotations

import json
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from atlaspatch.orchestrator.batch.shards import shard_from_environment
from tests.deploy_helpers import CHART, known_env_vars, parse_cli, render

EXAMPLES = sorted((CHART / "examples").glob("*.yaml"))
KUBERNETES = "1.33.0"


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


def test_prometheus_adapter_rule_serves_the_metric_the_autoscaler_reads() -> None:
    import re

    from atlaspatch.api.hosting.metrics import ServiceMetrics

    docs = render(example("gpu"))
    hpa_metric = find(docs, "HorizontalPodAutoscaler", "atlaspatch-encoder")["spec"]["metrics"][0]
    rules = find(docs, "ConfigMap", "atlaspatch-prometheus-adapter-rules")
    assert rules["metadata"]["namespace"] == "monitoring"
    [rule] = yaml.safe_load(rules["data"]["config.yaml"])["rules"]
    assert rule["name"]["as"] == hpa_metric["pods"]["metric"]["name"]
    # The series it reads is one the services really export, per pod.
    exported = {m.name for m in ServiceMetrics("encoder").registry.collect()}
    series = re.match(r"(\w+)\{", rule["seriesQuery"]).group(1)
    assert series in exported and re.fullmatch(rule["name"]["matches"], series)
    assert rule["resources"]["overrides"]["pod"] == {"resource": "pod"}
    assert not [d for d in render() if d["kind"] == "ConfigMap"], "optional: off by default"


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


def test_artifact_model_and_slide_encoders_are_served_and_asked_for(monkeypatch) -> None:
    values = {
        "segmenter": {"artifactModel": "grandqc"},
        "encoder": {"slideEncoders": ["titan", "prism"]},
        "orchestrator": {"enabled": True, "command": "segment-and-get-coords"},
    }
    docs = render(values)
    for component, command, expected in [
        ("segmenter", "segmenter", {"artifact_model": "grandqc"}),
        ("encoder", "encoder", {"slide_encoders": "titan,prism"}),
    ]:
        env = env_of(find(docs, "Deployment", f"atlaspatch-{component}"))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        params = parse_cli(["serve", command]).params  # the real CLI reads the chart's variables
        assert {key: params[key] for key in expected} == expected
    segmenter = env_of(find(docs, "Deployment", "atlaspatch-segmenter"))
    assert segmenter["ATLASPATCH_ARTIFACT_CHECKPOINT"].endswith("GrandQC_MPP1_state_dict.pth")
    job = next(d for d in docs if d["kind"] == "Job")
    for name, value in env_of(job).items():
        monkeypatch.setenv(name, value)
    params = parse_cli(container(job)["args"]).params
    assert params["artifact_model"] == "grandqc" and params["fast_mode"] is False
    plain = render({"orchestrator": {"enabled": True}})
    assert "ATLASPATCH_ARTIFACT_MODEL" not in env_of(
        find(plain, "Deployment", "atlaspatch-segmenter")
    )
    assert "ATLASPATCH_ARTIFACT_MODEL" not in env_of(next(d for d in plain if d["kind"] == "Job"))


@pytest.mark.parametrize(
    ("bad", "where"),
    [
        ({"encoder": {"maxBatchSize": 0}}, "maxBatchSize"),
        ({"encoder": {"batchSize": 8}}, "batchSize"),
        ({"encoder": {"device": "gpu"}}, "device"),
        ({"encoder": {"precision": "float8"}}, "precision"),
        ({"segmenter": {"tissueModel": "unet"}}, "tissueModel"),
        ({"segmenter": {"artifactModel": "histoqc"}}, "artifactModel"),
        ({"encoder": {"slideEncoders": ["titan v2"]}}, "slideEncoders"),
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
