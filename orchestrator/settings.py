"""Typed settings of a run, built once from the command line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from client.encoder import EncoderClient


@dataclass(frozen=True)
class CoordsSettings:
    patch_size: int
    target_magnification: float
    step_size: int | None = None
    tissue_thresh: float = 0.0
    min_tissue_fraction: float = 0.5
    fast_mode: bool = True
    white_thresh: int = 15
    black_thresh: int = 50
    write_batch: int = 8192
    save_images: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class VisualSettings:
    mask: bool = False
    contours: bool = False
    grids: bool = False


@dataclass(frozen=True)
class RunSettings:
    output: Path
    seg_batch_size: int = 1
    patch_workers: int = 1
    max_open_slides: int = 200
    skip_existing: bool = False
    force: bool = False
    mpp_table: dict[str, float] = field(default_factory=dict)
    visual: VisualSettings = VisualSettings()
    show_progress: bool = True

    @property
    def patches_dir(self) -> Path:
        return self.output / "patches"

    @property
    def visualization_dir(self) -> Path:
        return self.output / "visualization"

    @property
    def images_dir(self) -> Path:
        return self.output / "images"


@dataclass(frozen=True)
class FeatureSettings:
    names: list[str]  # encoders, in the order asked for
    # A client for some of those names: in-process encoders or a remote service.
    client_for: Callable[[list[str]], EncoderClient]
    batch_size: int = 32
