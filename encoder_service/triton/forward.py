"""Encoders that live in a Triton server: each call is forwarded with `tritonclient.grpc`, and
Triton's dynamic batcher merges the calls of all clients.

`TritonEncoders.create` stands in for `EncoderRegistry.create`: it reads the model's metadata
and configuration from Triton and refuses a model that is not the encoder it claims to be.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np
import torch
import tritonclient.grpc as triton
from tritonclient.utils import InferenceServerException

from atlaspatch.api.encoder_facts import EncoderFacts
from atlaspatch.api.errors import InvalidInput, Refused
from atlaspatch.api.hosting.triton import triton_error
from atlaspatch.encoder_service.registry import EncoderRegistry, UnknownEncoder
from atlaspatch.encoder_service.serving.handler import NotReady


class TritonModelMismatch(Refused):
    """A Triton model that is not what its name says (wrong tensors, dimension or encoder)."""


class TritonEncoders:
    batches_itself = True  # Triton's dynamic batcher merges the forwarded requests

    def __init__(self, url: str, registry: EncoderRegistry, timeout: float = 120.0):
        self.url = url.removeprefix("grpc://")
        self._registry = registry
        self._timeout = timeout
        self._local = threading.local()

    def client(self) -> triton.InferenceServerClient:
        """One client per thread: calls from many threads never share one."""
        if not hasattr(self._local, "client"):
            self._local.client = triton.InferenceServerClient(self.url)
        return self._local.client

    def default_precision(self, device: str) -> str:
        return ""  # each model runs the precision it was exported with

    def estimated_bytes(self, *args: Any, **kwargs: Any) -> int | None:
        return 0  # Triton holds the weights, not this process

    def check_known(self, name: str) -> None:
        pass  # Triton's models are known when they are asked for (create)

    def facts(self, name: str, *args: Any, **kwargs: Any) -> EncoderFacts:
        return self.create(name, *args, **kwargs).describe()  # a handle: nothing is loaded

    def create(
        self,
        name: str,
        device: str = "",
        precision: str = "",
        weights_dir: Any = None,
        allow_download: bool = False,
    ) -> TritonEncoder:
        """The encoder `name` as served by Triton. `device`, `weights_dir` and
        `allow_download` are Triton's business and ignored; `precision`, when given, must be
        the model's."""
        client = self.client()
        try:
            if not client.is_model_ready(name):
                raise UnknownEncoder(f"Triton at {self.url} has no ready model {name!r}")
            metadata = client.get_model_metadata(name)
            config = client.get_model_config(name).config
        except InferenceServerException as exc:
            raise NotReady(f"Triton at {self.url}: {exc.message()}") from exc
        facts = {key: value.string_value for key, value in config.parameters.items()}
        problems = model_problems(name, metadata, facts, self._expected_dim(name))
        if problems:
            raise TritonModelMismatch(f"Triton model {name!r}: " + "; ".join(problems))
        if precision and facts.get("precision") and precision != facts["precision"]:
            raise InvalidInput(
                f"precision {precision!r}: Triton model {name!r} runs {facts['precision']}"
            )
        return TritonEncoder(self, name, metadata, facts, config.max_batch_size, self._timeout)

    def statistics(self, name: str) -> tuple[int, int]:
        """(requests, executions) Triton has counted for a model: fewer executions than
        requests means its dynamic batcher merged them."""
        stats = self.client().get_inference_statistics(name).model_stats
        return (
            sum(s.inference_stats.success.count for s in stats),
            sum(s.execution_count for s in stats),
        )

    def _expected_dim(self, name: str) -> int | None:
        try:
            return self._registry.embedding_dim(name)
        except UnknownEncoder:
            return None  # an encoder only Triton knows: its metadata is the reference


def model_problems(
    name: str, metadata: Any, facts: dict[str, str], expected_dim: int | None
) -> list[str]:
    """Why a model cannot be served as encoder `name`: [] when it can."""
    problems = []
    if len(metadata.inputs) != 1 or len(metadata.outputs) != 1:
        return [f"{len(metadata.inputs)} inputs and {len(metadata.outputs)} outputs, not 1 and 1"]
    patches, embeddings = metadata.inputs[0], metadata.outputs[0]
    if patches.datatype != "UINT8" or len(patches.shape) != 4 or patches.shape[-1] != 3:
        problems.append(
            f"input {patches.name} is {patches.datatype} {list(patches.shape)}, "
            "not UINT8 [batch, height, width, 3]"
        )
    if embeddings.datatype != "FP32" or len(embeddings.shape) != 2:
        problems.append(
            f"output {embeddings.name} is {embeddings.datatype} {list(embeddings.shape)}, "
            "not FP32 [batch, dimension]"
        )
    elif expected_dim is not None and embeddings.shape[-1] != expected_dim:
        problems.append(f"dimension {embeddings.shape[-1]}, but {name} has {expected_dim}")
    if facts.get("encoder", name) != name:
        problems.append(f"exported for encoder {facts['encoder']!r}")
    return problems


class TritonEncoder:
    """One Triton model behind the `Encoder` interface."""

    def __init__(
        self,
        source: TritonEncoders,
        name: str,
        metadata: Any,
        facts: dict[str, str],
        max_batch_size: int,
        timeout: float,
    ):
        self._source = source
        self.name = name
        self.embedding_dim = int(metadata.outputs[0].shape[-1])
        self._input = metadata.inputs[0].name
        self._output = metadata.outputs[0].name
        self._version = metadata.versions[-1] if metadata.versions else ""
        self._facts = facts
        self._max_batch = max_batch_size or 0
        self._timeout = timeout

    def embed(self, patches: torch.Tensor | np.ndarray) -> torch.Tensor:
        array = patches.numpy() if isinstance(patches, torch.Tensor) else patches
        step = self._max_batch or len(array)
        # Triton refuses a request larger than the model's max batch: send it in parts.
        parts = [self._infer(array[start : start + step]) for start in range(0, len(array), step)]
        return torch.from_numpy(np.concatenate(parts) if len(parts) > 1 else parts[0])

    def warm_up(self, batch_size: int) -> None:
        pass  # Triton warms its own models (model_warmup in config.pbtxt)

    def input_size(self) -> None:
        return None  # Triton resizes; its own max batch bounds a pass

    def memory_bytes(self) -> int:
        return 0  # held by Triton, not here

    def describe(self) -> EncoderFacts:
        facts = self._facts
        preprocessing = json.loads(facts["preprocessing"]) if facts.get("preprocessing") else {}
        return EncoderFacts(
            encoder=self.name,
            embedding_dim=self.embedding_dim,
            precision=facts.get("precision", ""),
            weights_sha256=facts.get("weights_sha256", ""),
            weights_source=facts.get("weights_source", ""),
            architecture=facts.get("architecture", ""),
            features_version=int(facts.get("features_version") or 1),
            preprocessing=preprocessing,
            served_by=f"triton {self._source.url} model {self.name} v{self._version}",
        )

    def _infer(self, array: np.ndarray) -> np.ndarray:
        request = triton.InferInput(self._input, list(array.shape), "UINT8")
        request.set_data_from_numpy(np.ascontiguousarray(array, dtype=np.uint8))
        try:
            result = self._source.client().infer(
                self.name,
                [request],
                outputs=[triton.InferRequestedOutput(self._output)],
                client_timeout=self._timeout,
            )
        except InferenceServerException as exc:
            raise triton_error(exc) from exc
        return result.as_numpy(self._output).astype(np.float32)  # a copy torch may write
