"""TITAN (MahmoodLab/TITAN, gated): a slide transformer over CONCH v1.5 features of 512 px
patches at 20x, with the patches' level-0 positions and size."""

from __future__ import annotations

import numpy as np
import torch

from atlaspatch.api.slide_features import PatchData
from atlaspatch.encoder_service.slide_encoders.base import as_embedding
from atlaspatch.encoder_service.slide_encoders.catalog import SlideEncoderFacts
from atlaspatch.encoder_service.slide_encoders.files import ModelFiles
from atlaspatch.encoder_service.slide_encoders.hub_code import (
    autocast,
    load_safetensors,
    model_dtype,
    remote_class,
)
from atlaspatch.encoder_service.slide_encoders.patch_data import model_input

PATCH_FEATURE_DIM = 768


class Titan:
    def __init__(self, facts: SlideEncoderFacts, files: ModelFiles, device: str):
        self.facts = facts
        self._device = torch.device(device)
        self._dtype = model_dtype(self._device)
        config_class = remote_class(facts, files, "configuration_titan.TitanConfig")
        model_class = remote_class(facts, files, "modeling_titan.Titan")
        model = model_class(config_class.from_json_file(str(files["config.json"])))
        model.load_state_dict(load_safetensors(files), strict=True)
        self._model = model.to(device=self._device, dtype=self._dtype).eval()

    @property
    def precision(self) -> str:
        return str(self._dtype).removeprefix("torch.")

    def encode_slide(self, slide: PatchData) -> np.ndarray:
        data = model_input(slide, self.facts, PATCH_FEATURE_DIM)
        features = torch.from_numpy(data.features).unsqueeze(0).to(self._device)
        xy = torch.from_numpy(data.xy).unsqueeze(0).to(self._device)
        with torch.inference_mode(), autocast(self._device, self._dtype):
            output = self._model.encode_slide_from_patch_features(
                features, xy, data.patch_size_level0
            )
        return as_embedding(output, self.facts.name, self.facts.embedding_dim)
