"""Typed settings of a run, built once from the command line: each field is the option of
the same name (`settings_from`), so no option is mapped by hand."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from atlaspatch.client.encoder import EncoderClient

T = TypeVar("T")
# The QC page of an output root and the folder of its pictures and slide facts.
REPORT_PAGE = "report.html"
REPORT_FILES = "report_files"


def settings_from(cls: type[T], options: dict[str, Any], **more: Any) -> T:
    """`cls` built from the parsed options named like its fields (and `more`)."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in options.items() if k in names}, **more)


def config_folder(patch_size: int, target_magnification: float, step_size: int | None) -> str:
    """The subfolder of one patch setting (--output-layout per-config), named as TRIDENT
    names its own: magnification, patch size, overlap."""
    overlap = max(0, patch_size - (step_size or patch_size))
    return f"{target_magnification:g}x_{patch_size}px_{overlap}px_overlap"


def with_output_layout(options: dict[str, Any]) -> dict[str, Any]:
    """`options` with the output folder of their layout (per-config: a subfolder)."""
    if options.get("output_layout") != "per-config":
        return options
    folder = config_folder(
        options["patch_size"], options["target_magnification"], options.get("step_size")
    )
    return {**options, "output": Path(options["output"]) / folder}


@dataclass(frozen=True)
class CoordsSettings:
    """What decides which patches a slide gets (and how they are written)."""

    patch_size: int
    target_magnification: float
    step_size: int | None = None
    tissue_thresh: float = 0.0
    min_tissue_fraction: float = 0.5
    fast_mode: bool = True
    edge_patches: bool = False  # keep patches that cross the slide's edge (outside: white)
    white_thresh: int = 15
    black_thresh: int = 50
    write_batch: int = 8192
    save_images: bool = False
    drop_artifacts: bool = False  # leave patches a quality score flags out of coords
    artifact_thresholds: dict[str, float] = field(default_factory=dict)  # over the defaults
    artifact_model: str | None = None  # None: the scores from the pixels; "grandqc": GrandQC's

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunSettings:
    """Where results go and how a run over many slides behaves."""

    output: Path
    seg_batch_size: int = 1
    patch_workers: int = 1
    max_open_slides: int = 200
    tissue_thresh: float = 0.0
    skip_existing: bool = False
    force: bool = False
    mpp_table: dict[str, float] = field(default_factory=dict)
    visualize_mask: bool = False
    visualize_contours: bool = False
    save_geojson: bool = False  # tissue outlines for QuPath, in geojson/
    visualize_grids: bool = False
    verbose: bool = False
    # Slide paths in the HDF5 are absolute, or relative to this folder when it is given.
    wsi_path_root: Path | None = None

    @property
    def show_progress(self) -> bool:
        return not self.verbose  # debug logs and a progress bar do not mix

    @property
    def patches_dir(self) -> Path:
        return self.output / "patches"

    @property
    def visualization_dir(self) -> Path:
        return self.output / "visualization"

    @property
    def geojson_dir(self) -> Path:
        return self.output / "geojson"

    @property
    def images_dir(self) -> Path:
        return self.output / "images"

    @property
    def report_files_dir(self) -> Path:
        return self.output / REPORT_FILES


@dataclass(frozen=True)
class FeatureSettings:
    """Who embeds the patches (in process or a service) and how many at a time."""

    encoders: EncoderClient
    feature_batch_size: int = 32
    remove_features: tuple[str, ...] = ()  # feature sets taken out of existing files first

    @property
    def names(self) -> list[str]:
        return self.encoders.names
