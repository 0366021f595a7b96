"""Patient embeddings, one HDF5 per patient and encoder as AtlasPatch 1.1.0 writes them:
`<output>/patient_features/<encoder>/<case_id>.h5` holding a 1-D float32 `features` and the
file attributes encoder_name, num_slides, source_patch_encoder, source_manifest,
source_slide_h5_paths (JSON list) and source_slide_patch_summaries (JSON list of each slide
file's h5_path, num_patches, patch_size_level0, patch_size, target_magnification, wsi_path).
Written under a temporary name and renamed when complete."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from atlaspatch.client.slide_encoders import SlideEncoderFacts
from atlaspatch.orchestrator.output.writer import partial_path
from atlaspatch.orchestrator.slide_encoding.slide_store import PatchFile

PATIENT_FEATURES = "patient_features"


def patient_path(output: Path, encoder: str, case_id: str) -> Path:
    return output / PATIENT_FEATURES / encoder / f"{case_id}.h5"


def patient_attributes(
    facts: SlideEncoderFacts, manifest: Path, slides: list[PatchFile]
) -> dict[str, Any]:
    summaries = [
        {
            "h5_path": str(slide.path.resolve()),
            "num_patches": slide.num_patches,
            "patch_size_level0": slide.patch_size_level0,
            "patch_size": slide.patch_size,
            "target_magnification": slide.target_magnification,
            "wsi_path": slide.wsi_path,
        }
        for slide in slides
    ]
    return {
        "encoder_name": facts.name,
        "num_slides": len(slides),
        "source_patch_encoder": facts.patch_encoder,
        "source_manifest": str(manifest),
        "source_slide_h5_paths": json.dumps([str(slide.path.resolve()) for slide in slides]),
        "source_slide_patch_summaries": json.dumps(summaries),
    }


def reusable(path: Path, dim: int, attributes: dict[str, Any]) -> bool:
    """Whether the patient file there was made by this encoder from these very slide files
    (their paths, patch counts and geometry), with this dimension."""
    try:
        with h5py.File(path, "r") as h5:
            features = h5.get("features")
            if not isinstance(features, h5py.Dataset) or features.shape != (dim,):
                return False
            stored = {key: h5.attrs.get(key) for key in attributes if key != "source_manifest"}
    except OSError:
        return False
    return all(_same(stored[key], attributes[key]) for key in stored)


def write_patient_embedding(path: Path, vector: np.ndarray, attributes: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = partial_path(path)
    try:
        with h5py.File(temporary, "w") as h5:
            h5.create_dataset("features", data=np.asarray(vector, dtype=np.float32))
            for key, value in attributes.items():
                h5.attrs[key] = value if value is not None else "None"
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _same(stored: Any, wanted: Any) -> bool:
    if isinstance(stored, bytes):
        stored = stored.decode()
    if isinstance(wanted, str) and wanted.startswith("["):
        try:
            return json.loads(str(stored)) == json.loads(wanted)
        except (TypeError, ValueError):
            return False
    if isinstance(wanted, str):
        return str(stored) == wanted
    return stored is not None and float(stored) == float(wanted)
