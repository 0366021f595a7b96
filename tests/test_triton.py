"""A real tritonserver (the nvidia-pytriton wheel's, CPU, Python backend) serving an exported
repository, with our services forwarding to it: equal outputs, Triton's own batching, and
models refused when they are not what they claim."""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import h5py
import numpy as np
import pytest
import torch
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from atlaspatch.api import wire
from atlaspatch.api.hosting.server import ServerSettings
from atlaspatch.api.v1 import encoder_pb2, encoder_pb2_grpc
from atlaspatch.client.channel import Endpoint
from atlaspatch.client.remote import RemoteSegmenter
from atlaspatch.encoder_service.registry import EncoderRegistry
from atlaspatch.encoder_service.serving.server import encoder_server
from atlaspatch.encoder_service.triton.export import TritonExport, export_encoders
from atlaspatch.encoder_service.triton.forward import TritonEncoders, TritonModelMismatch
from atlaspatch.segmenter_service.sam2_backend import Sam2Segmenter
from atlaspatch.segmenter_service.server import segmenter_server
from atlaspatch.segmenter_service.triton_export import export_sam2
from tests.background_server import BackgroundServer
from tests.cli import atlaspatch, process_run
from tests.local_triton import LocalTriton, triton_env_ready

ENCODER = "efficientnet_lite0"

if not triton_env_ready():
    reason = "no Triton environment: run `make triton-env` (make test does)"
    if os.environ.get("ATLASPATCH_REQUIRE_TRITON"):
        raise RuntimeError(reason)
    pytest.skip(reason, allow_module_level=True)


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory, sam2_checkpoint: Path) -> Path:
    root = tmp_path_factory.mktemp("triton-repository")
    # A long queue delay, so that concurrent requests surely meet in Triton's batcher.
    export_encoders(EncoderRegistry(), [ENCODER], root, TritonExport(max_queue_delay_us=50_000))
    export_sam2(sam2_checkpoint, root)
    # An impostor: efficientnet_lite0 served under the name resnet18.
    shutil.copytree(root / ENCODER, root / "resnet18")
    config = text_format.Parse((root / "resnet18/config.pbtxt").read_text(), mc.ModelConfig())
    config.name = "resnet18"
    (root / "resnet18/config.pbtxt").write_text(text_format.MessageToString(config))
    return root


@pytest.fixture(scope="module")
def triton(repository: Path, tmp_path_factory: pytest.TempPathFactory):
    log = tmp_path_factory.mktemp("triton-log") / "tritonserver.log"
    with LocalTriton(repository, log) as server:
        yield server


@pytest.fixture(scope="module")
def forwarding_encoder(triton: LocalTriton):
    source = TritonEncoders(triton.url, EncoderRegistry())
    with BackgroundServer(lambda: encoder_server(ServerSettings(), source, [ENCODER])[0]) as server:
        yield server


def embed(address: str, patches: np.ndarray, precision: str = "") -> np.ndarray:
    stub = encoder_pb2_grpc.EncoderStub(grpc.insecure_channel(address))
    request = encoder_pb2.EmbedRequest(
        encoders=[ENCODER], precision=precision, patches=wire.patches_to_proto(patches)
    )
    response = stub.Embed(request, timeout=120)
    return wire.embedding_from_proto(response.embeddings[0])


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_triton_serves_the_exported_tensors(triton: LocalTriton) -> None:
    metadata = triton.client().get_model_metadata(ENCODER)
    (patches,), (embeddings,) = metadata.inputs, metadata.outputs
    assert (patches.name, patches.datatype, list(patches.shape)) == (
        "PATCHES",
        "UINT8",
        [-1, -1, -1, 3],
    )
    assert (embeddings.name, embeddings.datatype, list(embeddings.shape)) == (
        "EMBEDDINGS",
        "FP32",
        [-1, 1280],
    )


def test_embeddings_through_triton_equal_in_process(forwarding_encoder) -> None:
    # More patches than the model's max batch of 64: the service sends them in parts.
    patches = np.random.default_rng(0).integers(0, 255, (70, 96, 96, 3), dtype=np.uint8)
    remote = embed(forwarding_encoder.address, patches)
    local = EncoderRegistry().create(ENCODER).embed(torch.from_numpy(patches)).numpy()
    assert remote.shape == (70, 1280)
    assert cosines(remote, local).min() >= 0.9999


def test_process_through_triton_equals_in_process(
    forwarding_encoder, tmp_path: Path, synthetic_slide
) -> None:
    remote = process_run(
        synthetic_slide.path,
        tmp_path / "remote",
        "--feature-extractors",
        ENCODER,
        "--encoder-url",
        forwarding_encoder.address,
    )
    assert remote.exit_code == 0, remote.output
    local = process_run(synthetic_slide.path, tmp_path / "local", "--feature-extractors", ENCODER)
    assert local.exit_code == 0, local.output
    with (
        h5py.File(tmp_path / "remote/patches/synthetic-40x.h5") as r,
        h5py.File(tmp_path / "local/patches/synthetic-40x.h5") as here,
    ):
        assert np.array_equal(r["coords"][...], here["coords"][...])
        a, b = r[f"features/{ENCODER}"], here[f"features/{ENCODER}"]
        assert cosines(a[...], b[...]).min() >= 0.9999
        assert a.attrs["weights_sha256"] == b.attrs["weights_sha256"]


def test_concurrent_clients_meet_in_fewer_triton_executions(
    forwarding_encoder, triton: LocalTriton
) -> None:
    source = TritonEncoders(triton.url, EncoderRegistry())
    requests_before, executions_before = source.statistics(ENCODER)
    rng = np.random.default_rng(2)
    batches = [rng.integers(0, 255, (2, 64, 64, 3), dtype=np.uint8) for _ in range(48)]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda p: embed(forwarding_encoder.address, p), batches))
    assert all(r.shape == (2, 1280) for r in results)
    requests_after, executions_after = source.statistics(ENCODER)
    assert requests_after - requests_before == 48
    assert executions_after - executions_before < 48


def test_a_model_that_is_not_its_encoder_is_refused(triton: LocalTriton) -> None:
    source = TritonEncoders(triton.url, EncoderRegistry())
    with pytest.raises(TritonModelMismatch) as refused:
        source.create("resnet18")
    assert "dimension 1280, but resnet18 has 512" in str(refused.value)
    assert "exported for encoder 'efficientnet_lite0'" in str(refused.value)
    cli = atlaspatch(
        "serve", "encoder", "--backend", "triton", "--triton-url", triton.url,
        "--encoders", "resnet18,vit_b_16", "--port", "0",
    )  # fmt: skip
    assert cli.exit_code == 1 and "resnet18" in cli.output and "512" in cli.output
    missing = atlaspatch(
        "serve", "encoder", "--backend", "triton", "--triton-url", triton.url,
        "--encoders", "vit_b_16", "--port", "0",
    )  # fmt: skip
    assert missing.exit_code == 1 and "no ready model 'vit_b_16'" in missing.output


def test_another_precision_than_the_models_is_invalid(forwarding_encoder) -> None:
    patches = np.zeros((1, 32, 32, 3), dtype=np.uint8)
    with pytest.raises(grpc.RpcError) as error:
        embed(forwarding_encoder.address, patches, precision="bfloat16")
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "float32" in error.value.details()


@pytest.mark.slow
def test_segmenter_through_triton_equals_local_sam2(
    triton: LocalTriton, sam2_checkpoint: Path
) -> None:
    rng = np.random.default_rng(3)
    thumbnails = [
        rng.integers(0, 255, (150, 210, 3), dtype=np.uint8),
        rng.integers(0, 255, (97, 133, 3), dtype=np.uint8),
    ]
    settings = ServerSettings()
    with BackgroundServer(
        lambda: segmenter_server(settings, "sam2", triton_url=triton.url)
    ) as server:
        client = RemoteSegmenter(Endpoint.parse(server.address), "sam2")
        remote = client.segment(thumbnails)
        provenance = client.provenance()
    here = Sam2Segmenter(sam2_checkpoint)
    for a, b, thumbnail in zip(remote, here.segment(thumbnails), thumbnails, strict=True):
        assert a.dtype == bool and a.shape == thumbnail.shape[:2]
        assert (a == b).mean() > 0.999
    assert provenance["checkpoint_sha256"] == here.provenance()["checkpoint_sha256"]
