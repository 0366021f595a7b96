"""MOOZY (AtlasAnalyticsLab/MOOZY), built from the `moozy` package as the reference runs it:
each slide's lunit ViT-S/8 patch features laid out on their grid, a slide transformer per
slide, a case transformer over the slides; its case token is the embedding. A slide
embedding is that of a case of one slide.

The checkpoint (`moozy.pt`) holds the two transformers' weights and their configurations;
it is loaded with `weights_only=True`. The package reads a slide's features from an HDF5 in
AtlasPatch's layout, so each slide is handed to it as one, written to a temporary folder."""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from atlaspatch.api.errors import InvalidInput
from atlaspatch.api.slide_features import PatchData
from atlaspatch.encoder_service.slide_encoders.base import MissingPackage, as_embedding
from atlaspatch.encoder_service.slide_encoders.catalog import SlideEncoderFacts

PACKAGE_HINT = "pip install --no-deps moozy==0.1.1 (`make install` does)"


class Moozy:
    precision = "float32"

    def __init__(self, facts: SlideEncoderFacts, checkpoint: Path, device: str):
        self.facts = facts
        self._device = torch.device(device)
        self._model: Any = load_moozy(checkpoint, self._device)
        from moozy.data.features import INFERENCE_TOKEN_PRESETS, resolve_vram_token_cap

        # On a GPU the reference caps the tokens per slide by its memory; none on a CPU.
        self._token_cap = resolve_vram_token_cap(
            presets=INFERENCE_TOKEN_PRESETS, device=self._device
        )

    def encode_slide(self, slide: PatchData) -> np.ndarray:
        return self.encode_case([slide])

    def encode_case(self, slides: Sequence[PatchData]) -> np.ndarray:
        from moozy.data.stage2 import build_case_sample, collate_stage2_batch

        with tempfile.TemporaryDirectory(prefix="atlaspatch-moozy-") as folder:
            samples = [
                self._slide_sample(slide, Path(folder) / f"{index}.h5")
                for index, slide in enumerate(slides)
            ]
        batch = collate_stage2_batch([build_case_sample(slides=samples)])
        with torch.inference_mode():
            outputs = self._model(batch)
        return as_embedding(outputs["cls"], self.facts.name, self.facts.embedding_dim)

    def _slide_sample(self, slide: PatchData, path: Path) -> Any:
        from moozy.data.stage2 import load_stage2_slide_sample

        _write_patch_file(slide, self.facts.patch_encoder or "", path)
        try:
            sample = load_stage2_slide_sample(
                Path(slide.name).name,
                str(path),
                include_geometry_meta=True,
                max_valid_tokens_per_slide=self._token_cap,
                feature_h5_format="atlaspatch",
                feature_h5_key=self.facts.patch_encoder,
            )
        except ValueError as exc:  # no such features, or patches off a regular grid
            raise InvalidInput(f"moozy cannot read {slide.name}: {exc}") from exc
        width, wanted = int(sample["x"].shape[-1]), int(self._model.slide_encoder.feat_dim)
        if width != wanted:
            raise InvalidInput(
                f"{slide.name}: moozy reads {wanted}-d patch features, "
                f"features/{self.facts.patch_encoder} are {width}-d"
            )
        return sample


def _write_patch_file(slide: PatchData, patch_encoder: str, path: Path) -> None:
    """`slide` as the package reads it: coords, features/<patch encoder>, the patch sizes."""
    with h5py.File(path, "w") as h5:
        h5.create_dataset("coords", data=slide.xy)
        h5.create_dataset(f"features/{patch_encoder}", data=slide.features)
        h5.attrs["patch_size"] = slide.patch_size
        h5.attrs["patch_size_level0"] = slide.patch_size_level0


def load_moozy(checkpoint: Path, device: torch.device) -> torch.nn.Module:
    """The MOOZY model of a checkpoint in the package's format, in eval mode on `device`."""
    try:
        from moozy.models.serialization import build_slide_encoder_from_payload
        from moozy.models.stage2_supervised import MOOZY
    except ModuleNotFoundError as exc:
        raise MissingPackage(
            f"slide encoder 'moozy' needs the moozy package ({exc.name} is missing): "
            + PACKAGE_HINT
        ) from exc
    try:
        payload = torch.load(checkpoint, map_location="cpu", weights_only=True)
        slide_encoder = build_slide_encoder_from_payload(
            state=payload["teacher_slide_encoder"], config=payload["slide_encoder_config"]
        )
        case = payload["case_transformer_config"]
        model = MOOZY(
            slide_encoder=slide_encoder,
            case_transformer_layers=int(case["num_layers"]),
            case_transformer_heads=int(case["num_heads"]),
            case_transformer_ffn_dim=int(case["dim_feedforward"]),
            case_transformer_dropout=float(case["dropout"]),
            case_transformer_layerscale_init=float(case["layerscale_init"]),
            case_transformer_layer_drop=float(case["layer_drop"]),
            case_transformer_qk_norm=bool(case["qk_norm"]),
            case_transformer_num_registers=int(case["num_registers"]),
        )
        model.case_transformer.load_state_dict(payload["case_transformer"], strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError, OSError, pickle.UnpicklingError) as exc:
        kind = f"missing {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0]
        raise InvalidInput(f"{checkpoint} is not a MOOZY checkpoint: {kind}") from exc
    return model.to(device).eval()
