"""The segmenter backend that forwards thumbnails to a SAM2 model in Triton."""

from __future__ import annotations

import numpy as np
import tritonclient.grpc as triton
from tritonclient.utils import InferenceServerException

from atlaspatch.api.errors import Refused
from atlaspatch.api.hosting.triton import triton_error
from atlaspatch.segmenter_service.triton_export import INPUT, OUTPUT


class TritonSegmenterError(Refused):
    pass


class TritonSegmenter:
    def __init__(self, url: str, model: str = "sam2", timeout: float = 600.0):
        self.url = url.removeprefix("grpc://")
        self.name = model
        self._timeout = timeout
        self._client = triton.InferenceServerClient(self.url)
        try:
            if not self._client.is_model_ready(model):
                raise TritonSegmenterError(f"Triton at {self.url} has no ready model {model!r}")
            metadata = self._client.get_model_metadata(model)
            config = self._client.get_model_config(model).config
        except InferenceServerException as exc:
            raise TritonSegmenterError(f"Triton at {self.url}: {exc.message()}") from exc
        self._facts = {key: value.string_value for key, value in config.parameters.items()}
        inputs = [(t.name, t.datatype, len(t.shape)) for t in metadata.inputs]
        outputs = [(t.name, t.datatype, len(t.shape)) for t in metadata.outputs]
        if inputs != [(INPUT, "UINT8", 3)] or outputs != [(OUTPUT, "BOOL", 2)]:
            raise TritonSegmenterError(
                f"Triton model {model!r} takes {inputs} and gives {outputs}, not a thumbnail "
                "and a mask (export it with `atlaspatch export-triton --segmenter sam2`)"
            )
        if self._facts.get("tissue_model") != model:
            raise TritonSegmenterError(
                f"Triton model {model!r} was exported as {self._facts.get('tissue_model')!r}"
            )

    def segment(self, thumbnails: list[np.ndarray]) -> list[np.ndarray]:
        return [self._segment_one(thumbnail) for thumbnail in thumbnails]

    def provenance(self) -> dict[str, str]:
        return {
            "tissue_model": self.name,
            "sam2_config": self._facts.get("sam2_config", ""),
            "checkpoint": f"triton {self.url} model {self.name}",
            "checkpoint_sha256": self._facts.get("checkpoint_sha256", ""),
        }

    def _segment_one(self, thumbnail: np.ndarray) -> np.ndarray:
        request = triton.InferInput(INPUT, list(thumbnail.shape), "UINT8")
        request.set_data_from_numpy(np.ascontiguousarray(thumbnail, dtype=np.uint8))
        try:
            result = self._client.infer(
                self.name,
                [request],
                outputs=[triton.InferRequestedOutput(OUTPUT)],
                client_timeout=self._timeout,
            )
        except InferenceServerException as exc:
            raise triton_error(exc) from exc
        return result.as_numpy(OUTPUT).astype(bool, copy=False)
