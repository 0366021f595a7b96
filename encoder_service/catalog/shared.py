"""What several families of the catalogue share: normalisation statistics, layer settings of
timm's ViT builders, and the hub weights of a repository."""

from __future__ import annotations

from atlaspatch.encoder_service.catalog.spec import HubWeights

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
HALF_MEAN = HALF_STD = (0.5, 0.5, 0.5)
SAT_MEAN = (0.430, 0.411, 0.296)  # DINOv3 satellite models
SAT_STD = (0.213, 0.156, 0.143)
HOPTIMUS_MEAN = (0.707223, 0.578729, 0.703617)
HOPTIMUS_STD = (0.211883, 0.230117, 0.177517)

# Layers that timm's plain ViT builders take as arguments; build.py turns the names into classes.
GIANT_REG4 = {"img_size": 224, "init_values": 1e-5, "num_classes": 0, "dynamic_img_size": False}
SWIGLU = {"mlp_layer": "timm.layers.SwiGLUPacked", "act_layer": "torch.nn.SiLU"}


def hub_weights(repo: str, *filenames: str, gated: bool = False) -> HubWeights:
    return HubWeights(repo, filenames or ("model.safetensors", "pytorch_model.bin"), gated)
