"""The Triton Python-backend model of the SAM2 segmenter (copied as `model.py` into a model
repository by `atlaspatch export-triton --segmenter sam2`, next to its checkpoint)."""

import json
from pathlib import Path

import triton_python_backend_utils as pb_utils

from atlaspatch.api.hosting.model_files import file_sha256
from atlaspatch.segmenter_service.sam2_backend import Sam2Segmenter


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        facts = {key: v.get("string_value", "") for key, v in config.get("parameters", {}).items()}
        checkpoint = Path(args["model_repository"]) / args["model_version"] / "model.pth"
        if facts.get("checkpoint_sha256") and file_sha256(checkpoint) != facts["checkpoint_sha256"]:
            raise RuntimeError(f"{checkpoint} is not the checkpoint this model was exported with")
        device = "cpu"
        if facts.get("device", "cpu").startswith("cuda") and args["model_instance_kind"] == "GPU":
            device = f"cuda:{args['model_instance_device_id']}"
        self.segmenter = Sam2Segmenter(checkpoint, device=device)

    def execute(self, requests):
        thumbnails = [
            pb_utils.get_input_tensor_by_name(r, "THUMBNAIL").as_numpy() for r in requests
        ]
        masks = self.segmenter.segment(thumbnails)
        return [
            pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("MASK", mask)])
            for mask in masks
        ]
