"""A randomly initialised SAM2 checkpoint in AtlasPatch's published format, for tests and
benchmarks (the real one is on the Hugging Face hub, which tests never reach)."""

from __future__ import annotations

from pathlib import Path

from atlaspatch.segmenter_service.sam2_backend import SAM2_CONFIG


def write_random_checkpoint(path: Path, seed: int = 0) -> Path:
    """Write a random SAM2.1 Hiera-tiny checkpoint as `{'model': state_dict}` at `path`."""
    import torch
    from sam2.build_sam import build_sam2

    torch.manual_seed(seed)
    model = build_sam2(SAM2_CONFIG, ckpt_path=None, device="cpu", apply_postprocessing=False)
    torch.save({"model": model.state_dict()}, path)
    return path
