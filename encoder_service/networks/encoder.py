"""A loaded encoder: uint8 patches in, float32 embeddings out.

Preprocessing runs on the encoder's device, in batches: uint8 -> float, resize of the whole
patch to the model's input size, normalisation, cast to the chosen precision.
"""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F

from atlaspatch.api.encoder_facts import EncoderFacts
from atlaspatch.api.errors import InvalidInput
from atlaspatch.encoder_service.catalog.spec import EncoderSpec
from atlaspatch.encoder_service.networks.precision import torch_dtype


class Encoder(Protocol):
    name: str
    embedding_dim: int

    def embed(self, patches: torch.Tensor) -> torch.Tensor:
        """(B, H, W, 3) uint8 on the CPU -> (B, embedding_dim) float32 on the CPU."""
        ...

    def describe(self) -> EncoderFacts:
        """What computes its features: the provenance clients pin and files keep."""
        ...

    def warm_up(self, batch_size: int) -> None:
        """Run once at full batch size where the first pass is slow (CUDA start-up)."""
        ...

    def input_size(self) -> int | None:
        """The side every patch is resized to before the network (None: the patch's own)."""
        ...

    def memory_bytes(self) -> int:
        """What holding it costs: its weights and buffers (0 where it lives elsewhere)."""
        ...


def module_bytes(module: torch.nn.Module) -> int:
    tensors = [*module.parameters(), *module.buffers()]
    return sum(tensor.numel() * tensor.element_size() for tensor in tensors)


def network_facts(
    spec: EncoderSpec, precision: str, weights_sha256: str, weights_origin: str
) -> EncoderFacts:
    """What a network built from `spec` with these weights computes: known before it is."""
    return EncoderFacts(
        encoder=spec.name,
        embedding_dim=spec.embedding_dim,
        precision=precision,
        weights_sha256=weights_sha256,
        weights_source=spec.weights_label,
        weights_origin=weights_origin,
        architecture=spec.architecture,
        features_version=spec.features_version,
        preprocessing=spec.preprocessing(),
    )


class NetworkEncoder:
    def __init__(
        self,
        spec: EncoderSpec,
        network: torch.nn.Module,
        device: str,
        precision: str,
        weights_sha256: str,
        weights_origin: str,
    ):
        if precision not in spec.precisions:
            raise InvalidInput(f"{spec.name} does not support {precision}")
        self.spec = spec
        self.name = spec.name
        self.embedding_dim = spec.embedding_dim
        self.device = torch.device(device)
        self.precision = precision
        self.dtype = torch_dtype(precision)
        self.network = network.to(device=self.device, dtype=self.dtype).eval()
        # GPUs run convolutions fastest on NHWC tensors; it changes nothing for transformers.
        self._layout = torch.contiguous_format
        if self.device.type == "cuda":
            self._layout = torch.channels_last
            self.network = self.network.to(memory_format=self._layout)
        self._mean = torch.tensor(spec.mean, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(spec.std, device=self.device).view(1, 3, 1, 1)
        self._weights_sha256 = weights_sha256
        self._weights_origin = weights_origin

    def preprocess(self, patches: torch.Tensor) -> torch.Tensor:
        x = patches.to(self.device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255)
        resized = self.spec.resize_size
        if x.shape[-2:] != (resized, resized):
            x = F.interpolate(
                x,
                size=(resized, resized),
                mode=self.spec.interpolation,
                align_corners=False,
                antialias=True,
            )
            # The reference resizes uint8 images (PIL, torchvision, transformers): rounding to
            # 8 bits here, as they do, keeps the features within rounding of theirs.
            x = x.mul_(255).round_().clamp_(0, 255).div_(255)
        size = self.spec.input_size
        if resized != size:
            start = int(round((resized - size) / 2))  # torchvision's CenterCrop
            x = x[:, :, start : start + size, start : start + size]
        x = ((x - self._mean) / self._std).to(self.dtype)
        return x.contiguous(memory_format=self._layout)

    @torch.inference_mode()
    def embed(self, patches: torch.Tensor) -> torch.Tensor:
        output = self.network(self.preprocess(patches))
        if self.spec.pooling == "cls_and_mean":
            output = torch.cat(
                [output[:, 0], output[:, self.spec.prefix_tokens :].mean(dim=1)], dim=-1
            )
        elif output.ndim > 2:  # a pooled map (B, C, 1, 1), as torchvision's ConvNeXt gives
            output = output.flatten(start_dim=1)
        return output.float().cpu()

    def warm_up(self, batch_size: int) -> None:
        if self.device.type != "cuda":
            return  # on the CPU the first pass costs what the others do
        size = self.spec.input_size
        self.embed(torch.zeros((batch_size, size, size, 3), dtype=torch.uint8))

    def input_size(self) -> int:
        return self.spec.input_size

    def memory_bytes(self) -> int:
        return module_bytes(self.network)

    def describe(self) -> EncoderFacts:
        return network_facts(self.spec, self.precision, self._weights_sha256, self._weights_origin)
