"""The artifact model a command scores patches with (`--artifact-model`): the segmenter
service's own handler in this process, or the segmenter service (`--segmenter-url`)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from atlaspatch.api import wire
from atlaspatch.api.errors import NotFound
from atlaspatch.api.v1 import segmenter_pb2, segmenter_pb2_grpc
from atlaspatch.client.channel import Endpoint, call_metadata, open_channel
from atlaspatch.client.in_process import require_libraries, service_libraries
from atlaspatch.client.remote import list_models
from atlaspatch.client.retry import call_service

if TYPE_CHECKING:
    from atlaspatch.segmenter_service.artifacts_handler import ArtifactsHandler

MODELS = ("grandqc",)


class ArtifactScorer(Protocol):
    def shares(self, patches: np.ndarray, patch_mpp: float) -> tuple[list[str], np.ndarray]:
        """(class names, (N, classes) float32 shares of each patch's pixels per class)."""
        ...

    def provenance(self) -> dict[str, str]: ...


class LocalArtifacts:
    """The handler in this process, built when it first scores."""

    def __init__(self, model: str, device: str, checkpoint: Path | None = None):
        self._model, self._device, self._checkpoint = model, device, checkpoint
        self._handler: ArtifactsHandler | None = None
        self._lock = threading.Lock()

    def shares(self, patches: np.ndarray, patch_mpp: float) -> tuple[list[str], np.ndarray]:
        handler = self._built()
        return list(handler.classes), handler.shares(handler.name, list(patches), patch_mpp)

    def provenance(self) -> dict[str, str]:
        """From the checkpoint file, without building the model where it is not built yet."""
        if self._handler is not None:
            return self._handler.provenance()
        with service_libraries("Artifact models", "--segmenter-url"):
            from atlaspatch.segmenter_service.artifacts_handler import artifact_provenance

            return artifact_provenance(self._model, self._checkpoint)

    def _built(self) -> ArtifactsHandler:
        with self._lock:
            if self._handler is None:
                with service_libraries("Artifact models", "--segmenter-url"):
                    from atlaspatch.segmenter_service.artifacts_handler import (
                        build_artifacts_handler,
                    )

                    self._handler = build_artifacts_handler(
                        self._model, self._device, self._checkpoint
                    )
            return self._handler


class RemoteArtifacts:
    """The artifact model of the segmenter service at `endpoint`."""

    def __init__(self, endpoint: Endpoint, model: str, deadline: float = 600.0):
        self._endpoint, self._model, self._deadline = endpoint, model, deadline
        self._what = f"segmenter at {endpoint.target}"
        self._stub = segmenter_pb2_grpc.SegmenterStub(open_channel(endpoint))
        self._provenance: dict[str, str] | None = None

    def shares(self, patches: np.ndarray, patch_mpp: float) -> tuple[list[str], np.ndarray]:
        request = segmenter_pb2.ScorePatchesRequest(
            model=self._model,
            patch_mpp=patch_mpp,
            patches=[wire.image_to_proto(patch) for patch in patches],
        )
        response = call_service(
            lambda: self._stub.ScorePatches(
                request, timeout=self._deadline, metadata=call_metadata(self._endpoint)
            ),
            self._what,
            target=self._endpoint.target,
        )
        shape = (response.rows, len(response.classes))
        shares = np.frombuffer(response.shares, dtype="<f4").reshape(shape)
        return list(response.classes), shares

    def provenance(self) -> dict[str, str]:
        """Asked once (a service is one model for its life)."""
        if self._provenance is None:
            response = list_models(self._stub, self._endpoint, self._what)
            hosted = {model.name: dict(model.provenance) for model in response.artifact_models}
            if self._model not in hosted:
                raise NotFound(
                    f"the {self._what} scores patches with {sorted(hosted) or 'no model'}, "
                    f"not {self._model!r} (serve segmenter --artifact-model {self._model})"
                )
            self._provenance = hosted[self._model]
        return self._provenance


def local_artifacts(model: str, device: str, checkpoint: Path | None = None) -> LocalArtifacts:
    if model not in MODELS:
        raise NotFound(f"unknown artifact model {model!r}; choose one of {', '.join(MODELS)}")
    require_libraries(
        "Artifact models", "--segmenter-url", ("torch", "segmentation_models_pytorch")
    )
    return LocalArtifacts(model, device, checkpoint)
