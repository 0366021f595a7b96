"""MOOZY (AtlasAnalyticsLab/MOOZY), built from the `moozy` package as the reference runs it:
each slide's lunit ViT-S/8 patch features laid out on their grid, a slide transformer per
slide, a case transformer over the slides; its case token is the embedding. A slide
embedding is that of a case of one slide.

The checkpoint (`moozy.pt`) holds the two transformers' weights and their configurations;
it is loaded with `weights_only=True`."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from atlaspatch.api.errors import InvalidInput
from atlaspatch.encoder_service.slide_encoders.base import MissingPackage, as_embedding
from atlaspatch.encoder_service.slide_encoders.catalog import SlideEncoderFacts

PACKAGE_HINT = "pip install --no-deps moozy==0.1.1 (`make install` does)"


class Moozy:
    def __init__(self, facts: SlideEncoderFacts, checkpoint: Path, device: str):
        self.facts = facts
        self._device = torch.device(device)
        self._model: Any = load_moozy(checkpoint, self._device)
        from moozy.data.features import INFERENCE_TOKEN_PRESETS, resolve_vram_token_cap

        # On a GPU the reference caps the tokens per slide by its memory; none on a CPU.
        self._token_cap = resolve_vram_token_cap(
            presets=INFERENCE_TOKEN_PRESETS, device=self._device
        )

    def encode_slide(self, patch_file: Path) -> np.ndarray:
        return self.encode_case([patch_file])

    def encode_case(self, patch_files: Sequence[Path]) -> np.ndarray:
        from moozy.data.stage2 import build_case_sample, collate_stage2_batch

        slides = [self._slide_sample(path) for path in patch_files]
        batch = collate_stage2_batch([build_case_sample(slides=slides)])
        with torch.inference_mode():
            outputs = self._model(batch)
        return as_embedding(outputs["cls"], self.facts.name, self.facts.embedding_dim)

    def _slide_sample(self, path: Path) -> Any:
        from moozy.data.stage2 import load_stage2_slide_sample

        try:
            sample = load_stage2_slide_sample(
                path.name,
                str(path),
                include_geometry_meta=True,
                max_valid_tokens_per_slide=self._token_cap,
                feature_h5_format="atlaspatch",
                feature_h5_key=self.facts.patch_encoder,
            )
        except ValueError as exc:  # no such features, or patches off a regular grid
            raise InvalidInput(f"moozy cannot read {path}: {exc}") from exc
        width, wanted = int(sample["x"].shape[-1]), int(self._model.slide_encoder.feat_dim)
        if width != wanted:
            raise InvalidInput(
                f"{path}: moozy reads {wanted}-d patch features, "
                f"features/{self.facts.patch_encoder} are {width}-d"
            )
        return sample


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
