"""Files laid out where AtlasPatch 1.1.0's builders look for them, as their publishers publish
them: the real configuration files (tests/parity/published/, see its SOURCES.md) and random
weights in the published checkpoint layout, in a Hugging Face cache and a torch hub folder
that the process reads offline (HF_HUB_CACHE, HF_HUB_OFFLINE, TORCH_HOME)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import torch

from tests.parity.random_weights import randomise, state_of

CONFIGS = Path(__file__).parent / "published"
REVISION = "0" * 40


class MissingConfig(LookupError):
    """A published configuration this harness has no copy of."""


class Layout:
    def __init__(self, root: Path, seed: int = 0):
        self.hub = root / "hf-hub"
        self.torch_home = root / "torch"
        self.seed = seed

    def environment(self) -> dict[str, str]:
        return {
            "HF_HUB_CACHE": str(self.hub),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "TORCH_HOME": str(self.torch_home),
        }

    def snapshot(self, repo: str) -> Path:
        folder = self.hub / f"models--{repo.replace('/', '--')}"
        (folder / "refs").mkdir(parents=True, exist_ok=True)
        (folder / "refs" / "main").write_text(REVISION)
        snapshot = folder / "snapshots" / REVISION
        snapshot.mkdir(parents=True, exist_ok=True)
        return snapshot

    def copy_configs(self, repo: str, needs: tuple[str, ...] = ()) -> Path:
        """The repository's published configuration files, `needs` among them."""
        source = CONFIGS / repo
        missing = [name for name in needs if not (source / name).is_file()]
        if not source.is_dir() or missing:
            what = ", ".join(missing) or "configuration"
            raise MissingConfig(f"no published {what} of {repo} in tests/parity/published")
        snapshot = self.snapshot(repo)
        for path in source.iterdir():
            shutil.copy(path, snapshot / path.name)
        return snapshot

    def random(self, build: Callable[[], torch.nn.Module]) -> torch.nn.Module:
        torch.manual_seed(self.seed)
        return randomise(build(), self.seed)


def save_safetensors(module: torch.nn.Module, path: Path) -> Path:
    from safetensors.torch import save_file

    save_file(state_of(module), str(path))
    return path


def save_torch(state: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


def torchvision_weights(layout: Layout, name: str) -> Path:
    """torchvision's checkpoint of the weights the reference picks, in torch hub's cache."""
    from atlas_patch.models.patch import convnext, resnet, vit
    from atlas_patch.models.patch.base import _resolve_torchvision_weights

    specs = {s[0]: s for s in (*resnet._RESNET_SPECS, *convnext._CONVNEXT_SPECS, *vit._VIT_SPECS)}
    _, constructor, weights_enum, _ = specs[name]
    weights = _resolve_torchvision_weights(weights_enum)
    kwargs = {"num_classes": len(weights.meta["categories"])}
    if name.startswith("vit_"):
        kwargs["image_size"] = weights.meta["min_size"][0]
    model = layout.random(lambda: constructor(weights=None, **kwargs))
    target = layout.torch_home / "hub" / "checkpoints" / os.path.basename(weights.url)
    return save_torch(state_of(model), target)


def openai_clip_weights(layout: Layout, name: str) -> Path:
    """open_clip's file of OpenAI's weights, in the hub repository open_clip reads it from."""
    import open_clip
    from atlas_patch.models.patch.clip import _OPENAI_CLIP_SPECS

    model_name, tag = next((m, t) for n, m, t, _ in _OPENAI_CLIP_SPECS if n == name)
    repo = open_clip.get_pretrained_cfg(model_name, tag)["hf_hub"].strip("/")
    model = layout.random(lambda: open_clip.create_model(model_name, pretrained=None))
    return save_torch(state_of(model), layout.snapshot(repo) / "open_clip_pytorch_model.bin")


def timm_hub_weights(layout: Layout, repo: str, **layers) -> Path:
    """A timm hub repository: its config.json and a model.safetensors of the network that
    config describes (`layers`: the classes the reference passes, which name the tensors)."""
    import timm

    snapshot = layout.copy_configs(repo, ("config.json",))
    model = layout.random(lambda: timm.create_model(f"hf-hub:{repo}", pretrained=False, **layers))
    return save_safetensors(model, snapshot / "model.safetensors")


def transformers_weights(
    layout: Layout, repo: str, model_class: str = "AutoModel", needs: tuple[str, ...] = ()
) -> Path:
    """A transformers repository: its config.json (and the processor files the reference
    reads, `needs`) and a model.safetensors of the model the config describes."""
    import transformers

    snapshot = layout.copy_configs(repo, ("config.json", *needs))
    config = transformers.AutoConfig.from_pretrained(snapshot)
    # AutoModel picks the class from the config; a named class is built directly.
    model_type = getattr(transformers, model_class)
    build = model_type.from_config if model_class == "AutoModel" else model_type
    model = layout.random(lambda: build(config))
    return save_safetensors(model, snapshot / "model.safetensors")


def open_clip_hub_weights(layout: Layout, repo: str) -> Path:
    """An open_clip hub repository: open_clip_config.json (and the config.json of the
    Hugging Face text tower it names, which open_clip reads to build it) and its weights."""
    import json

    import open_clip

    snapshot = layout.copy_configs(repo, ("open_clip_config.json",))
    text = json.loads((snapshot / "open_clip_config.json").read_text())["model_cfg"]["text_cfg"]
    if text.get("hf_model_name"):
        layout.copy_configs(text["hf_model_name"], ("config.json",))
    # pretrained_text=False: the text tower's own hub weights are not fetched (the reference
    # never needs them: the whole checkpoint replaces them).
    model = layout.random(
        lambda: open_clip.create_model(f"hf-hub:{repo}", load_weights=False, pretrained_text=False)
    )
    return save_torch(state_of(model), snapshot / "open_clip_pytorch_model.bin")


def omiclip_weights(layout: Layout) -> Path:
    """Loki's checkpoint.pt: an open_clip training checkpoint of CoCa ViT-L/14."""
    import open_clip

    model = layout.random(lambda: open_clip.create_model("coca_ViT-L-14", pretrained=None))
    state = {f"module.{key}": value for key, value in state_of(model).items()}
    snapshot = layout.snapshot("WangGuangyuLab/Loki")
    return save_torch({"epoch": 1, "state_dict": state}, snapshot / "checkpoint.pt")


def chief_weights(layout: Layout) -> Path:
    """CHIEF's CTransPath checkpoint: {"model": ...} in the Swin layout of its time, each
    stage's patch merging at the end of that stage, where the reference's loader expects it."""
    import timm
    from atlas_patch.models.patch.chief_ctranspath import ConvStem

    model = layout.random(
        lambda: timm.create_model("swin_tiny_patch4_window7_224", embed_layer=ConvStem)
    )
    state = {}
    for key, value in state_of(model).items():
        for stage in (1, 2, 3):
            if key.startswith(f"layers.{stage}.downsample."):
                key = key.replace(f"layers.{stage}.", f"layers.{stage - 1}.", 1)
        state[key] = value
    target = layout.torch_home / "hub" / "atlas_patch" / "chief" / "CHIEF_CTransPath.pth"
    return save_torch({"model": state}, target)


def conch_weights(layout: Layout) -> Path:
    """MahmoodLab/conch as CONCH's loader fetches it: meta.yaml (fetched, never read) and
    pytorch_model.bin, the state of the CoCa its packaged configuration describes."""
    import json

    from conch.open_clip_custom.coca_model import CoCa
    from conch.open_clip_custom.factory import CFG_DIR

    config = json.loads((CFG_DIR / "conch_ViT-B-16.json").read_text())
    config.pop("custom_text", None)
    model = layout.random(lambda: CoCa(**config))
    snapshot = layout.snapshot("MahmoodLab/conch")
    (snapshot / "meta.yaml").write_text("# fetched by CONCH's loader, never read\n")
    return save_torch(state_of(model), snapshot / "pytorch_model.bin")
