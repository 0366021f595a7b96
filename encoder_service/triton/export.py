"""Writing a Triton model repository: one model per encoder, uint8 NHWC patches in, float32
embeddings out, preprocessing inside the model, dynamic batching on.

Two variants. `python` (every Triton, CPU or GPU) runs our own encoder code in Triton's Python
backend. `torchscript` traces the encoder with its preprocessing for Triton's PyTorch backend
(`pytorch_libtorch`, GPU servers); plugin encoders cannot be traced.

The configurations are built as Triton's own `ModelConfig` protobuf, so what Triton reads is
what it defines.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from atlaspatch.api.errors import InvalidInput
from atlaspatch.encoder_service.catalog.spec import EncoderSpec
from atlaspatch.encoder_service.networks.weights import WeightsNotFound, resolve_weights
from atlaspatch.encoder_service.registry import EncoderRegistry

VARIANTS = ("python", "torchscript")
INPUT, OUTPUT = "PATCHES", "EMBEDDINGS"
# The PyTorch backend names tensors by position.
TORCHSCRIPT_INPUT, TORCHSCRIPT_OUTPUT = "PATCHES__0", "EMBEDDINGS__0"
PYTHON_MODEL = Path(__file__).with_name("model.py")


@dataclass(frozen=True)
class TritonExport:
    variant: str = "python"
    max_batch_size: int = 64
    max_queue_delay_us: int = 5000
    instances: int = 1
    gpu: bool = False
    precision: str = "float32"
    weights_dir: Path | None = None
    version: int = 1


def export_encoders(
    registry: EncoderRegistry, names: list[str], out: Path, options: TritonExport
) -> list[Path]:
    """Write one model folder per encoder under `out`; returns the folders."""
    if options.variant not in VARIANTS:
        raise InvalidInput(f"variant {options.variant!r}: use one of {', '.join(VARIANTS)}")
    specs = [_builtin_spec(registry, name) for name in names]
    written = []
    for spec in specs:
        folder = out / spec.name
        version = folder / str(options.version)
        version.mkdir(parents=True, exist_ok=True)
        if options.variant == "python":
            shutil.copyfile(PYTHON_MODEL, version / "model.py")
            sha256 = _weights_sha256(spec, options.weights_dir)
        else:
            from atlaspatch.encoder_service.networks.encoder import NetworkEncoder
            from atlaspatch.encoder_service.triton.torchscript import trace_encoder

            encoder = registry.create(spec.name, "cpu", options.precision, options.weights_dir)
            assert isinstance(encoder, NetworkEncoder)  # built-in specs build timm encoders
            trace_encoder(encoder).save(str(version / "model.pt"))
            sha256 = encoder.describe().weights_sha256
        config = encoder_config(spec, options, sha256)
        (folder / "config.pbtxt").write_text(text_format.MessageToString(config))
        written.append(folder)
    return written


def encoder_config(spec: EncoderSpec, options: TritonExport, weights_sha256: str) -> mc.ModelConfig:
    config = mc.ModelConfig(name=spec.name, max_batch_size=options.max_batch_size)
    if options.variant == "python":
        config.backend = "python"
        names = (INPUT, OUTPUT)
    else:
        config.platform = "pytorch_libtorch"
        names = (TORCHSCRIPT_INPUT, TORCHSCRIPT_OUTPUT)
    config.input.add(name=names[0], data_type=mc.TYPE_UINT8, dims=[-1, -1, 3])
    config.output.add(name=names[1], data_type=mc.TYPE_FP32, dims=[spec.embedding_dim])
    config.dynamic_batching.max_queue_delay_microseconds = options.max_queue_delay_us
    kind = mc.ModelInstanceGroup.KIND_GPU if options.gpu else mc.ModelInstanceGroup.KIND_CPU
    config.instance_group.add(count=options.instances, kind=kind)
    config.version_policy.latest.num_versions = 1
    # What the model is, for the forwarding service's checks and the HDF5 provenance.
    facts = {
        "encoder": spec.name,
        "embedding_dim": str(spec.embedding_dim),
        "precision": options.precision,
        "device": "cuda" if options.gpu else "cpu",
        "weights_sha256": weights_sha256,
        "weights_dir": str(options.weights_dir or ""),
        "architecture": spec.architecture,
        "weights_source": spec.weights_label,
        "preprocessing": json.dumps(spec.preprocessing(), sort_keys=True),
        "features_version": str(spec.features_version),
    }
    for key, value in facts.items():
        config.parameters[key].string_value = value
    return config


def _builtin_spec(registry: EncoderRegistry, name: str) -> EncoderSpec:
    registry.embedding_dim(name)  # an unknown name raises, with suggestions
    spec = registry.spec(name)
    if spec is None:
        raise InvalidInput(
            f"{name} is a plugin encoder; only built-in encoders can be exported to Triton"
        )
    return spec


def _weights_sha256(spec: EncoderSpec, weights_dir: Path | None) -> str:
    """The digest of the weights the model will load, when they are here; the model checks it
    at load time. Empty when they are not here (the Triton host finds its own)."""
    try:
        return resolve_weights(spec, weights_dir, allow_download=False).sha256()
    except WeightsNotFound:
        return ""
