"""The SAM2 segmenter as a Triton model (Python backend): one RGB uint8 thumbnail in (input
THUMBNAIL), its boolean tissue mask out (output MASK). The checkpoint is copied into the
version folder, so the repository carries everything the model needs."""

from __future__ import annotations

import shutil
from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from atlaspatch.api.hosting.model_files import file_sha256
from atlaspatch.segmenter_service.sam2_backend import SAM2_CONFIG

INPUT, OUTPUT = "THUMBNAIL", "MASK"
CHECKPOINT_NAME = "model.pth"
PYTHON_MODEL = Path(__file__).with_name("triton_model.py")


def export_sam2(
    checkpoint: Path, out: Path, instances: int = 1, gpu: bool = False, version: int = 1
) -> Path:
    folder = out / "sam2"
    target = folder / str(version)
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PYTHON_MODEL, target / "model.py")
    shutil.copyfile(checkpoint, target / CHECKPOINT_NAME)
    config = sam2_config(file_sha256(checkpoint), instances, gpu)
    (folder / "config.pbtxt").write_text(text_format.MessageToString(config))
    return folder


def sam2_config(checkpoint_sha256: str, instances: int, gpu: bool) -> mc.ModelConfig:
    # Thumbnails differ in size, so Triton cannot stack them: no batch dimension.
    config = mc.ModelConfig(name="sam2", backend="python", max_batch_size=0)
    config.input.add(name=INPUT, data_type=mc.TYPE_UINT8, dims=[-1, -1, 3])
    config.output.add(name=OUTPUT, data_type=mc.TYPE_BOOL, dims=[-1, -1])
    kind = mc.ModelInstanceGroup.KIND_GPU if gpu else mc.ModelInstanceGroup.KIND_CPU
    config.instance_group.add(count=instances, kind=kind)
    config.version_policy.latest.num_versions = 1
    facts = {
        "tissue_model": "sam2",
        "sam2_config": SAM2_CONFIG,
        "checkpoint_sha256": checkpoint_sha256,
        "device": "cuda" if gpu else "cpu",
    }
    for key, value in facts.items():
        config.parameters[key].string_value = value
    return config
