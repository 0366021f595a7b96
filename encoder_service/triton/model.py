"""The Triton Python-backend model of one encoder (copied as `model.py` into a model
repository by `atlaspatch export-triton`).

uint8 NHWC patches in (input PATCHES), float32 embeddings out (output EMBEDDINGS); the
preprocessing runs inside, exactly as in the encoder service. Triton's dynamic batcher hands
`execute` several requests at once: they are embedded in one forward pass and split back.
"""

import json

import numpy as np
import torch
import triton_python_backend_utils as pb_utils

from atlaspatch.encoder_service.registry import EncoderRegistry


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        facts = {key: v.get("string_value", "") for key, v in config.get("parameters", {}).items()}
        device = facts.get("device", "cpu")
        if device.startswith("cuda") and args.get("model_instance_kind") == "GPU":
            device = f"cuda:{args['model_instance_device_id']}"
        self.encoder = EncoderRegistry().create(
            facts["encoder"],
            device=device,
            precision=facts.get("precision", "float32"),
            weights_dir=facts.get("weights_dir") or None,
        )
        expected = facts.get("weights_sha256")
        loaded = self.encoder.describe().weights_sha256
        if expected and loaded != expected:
            # Refuse to serve other weights than the ones the repository was exported with.
            raise RuntimeError(
                f"{facts['encoder']}: weights sha256 {loaded} differ from the exported {expected}"
            )

    def execute(self, requests):
        arrays = [pb_utils.get_input_tensor_by_name(r, "PATCHES").as_numpy() for r in requests]
        merged = np.concatenate(arrays) if len(arrays) > 1 else arrays[0]
        embeddings = self.encoder.embed(torch.from_numpy(np.ascontiguousarray(merged))).numpy()
        responses, start = [], 0
        for array in arrays:
            rows = embeddings[start : start + len(array)]
            start += len(array)
            output = pb_utils.Tensor("EMBEDDINGS", np.ascontiguousarray(rows, dtype=np.float32))
            responses.append(pb_utils.InferenceResponse(output_tensors=[output]))
        return responses
