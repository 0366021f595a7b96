"""PRISM (paige-ai/Prism, gated): a Perceiver over Virchow (v1) features of 224 px patches
at 20x; its image embedding is the slide's. The text decoder is not kept."""

from __future__ import annotations

import numpy as np
import torch

from atlaspatch.api.errors import InvalidInput
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

PATCH_FEATURE_DIM = 2560


class Prism:
    def __init__(self, facts: SlideEncoderFacts, files: ModelFiles, device: str):
        self.facts = facts
        self._device = torch.device(device)
        self._dtype = model_dtype(self._device)
        config_class = remote_class(facts, files, "configuring_prism.PrismConfig")
        model_class = remote_class(facts, files, "modeling_prism.Prism")
        config = config_class.from_json_file(str(files["config.json"]))
        # The checkpoint keeps one copy of each shared weight: nothing is tied on load.
        config.tie_word_embeddings = False
        config.biogpt_config.tie_word_embeddings = False
        model = model_class(config)
        _, unexpected = model.load_state_dict(load_safetensors(files), strict=False)
        if unexpected:
            raise InvalidInput(
                f"the PRISM checkpoint has weights the model does not: {sorted(unexpected)[:5]}"
            )
        model.text_decoder = None
        self._model = model.to(device=self._device, dtype=self._dtype).eval()

    @property
    def precision(self) -> str:
        return str(self._dtype).removeprefix("torch.")

    def encode_slide(self, slide: PatchData) -> np.ndarray:
        data = model_input(slide, self.facts, PATCH_FEATURE_DIM)
        features = torch.from_numpy(data.features).unsqueeze(0).to(self._device)
        with torch.inference_mode(), autocast(self._device, self._dtype):
            output = self._model.slide_representations(features)
        if not isinstance(output, dict) or "image_embedding" not in output:
            raise InvalidInput("PRISM returned no image_embedding")
        return as_embedding(output["image_embedding"], self.facts.name, self.facts.embedding_dim)
