"""`--edge-patches`: grid patches that cross the slide's right or bottom edge, as AtlasPatch
keeps them; what lies beyond the edge counts as no tissue."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
from PIL import Image

from tests.cli import atlaspatch


def _tissue_to_the_edges(folder: Path) -> tuple[Path, Path]:
    """1,000 x 700 px at 20x: glass on the left 300 px, tissue from there to both edges."""
    pixels = np.full((700, 1000, 3), 245, np.uint8)
    pixels[:, 300:] = (200, 110, 160)
    image = folder / "edges.png"
    Image.fromarray(pixels).save(image)
    table = folder / "mpp.csv"
    table.write_text("wsi,mpp\nedges.png,0.5\n")
    return image, table


def _coords(image: Path, table: Path, out: Path, *extra: str) -> np.ndarray:
    result = atlaspatch(
        "segment-and-get-coords", image, "-o", out, "--patch-size", "256", "--target-mag", "20",
        "--tissue-model", "otsu", "--device", "cpu", "--mpp-csv", table, *extra,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with h5py.File(out / "patches/edges.h5") as h5:
        return h5["coords"][...]


def test_edge_patches_are_kept_only_when_asked_for(tmp_path: Path) -> None:
    image, table = _tissue_to_the_edges(tmp_path)
    inside = _coords(image, table, tmp_path / "inside")
    edges = _coords(image, table, tmp_path / "edges", "--edge-patches")
    # Inside the slide: the columns at x = 256 (83% tissue) and 512, the rows at 0 and 256.
    assert sorted(map(tuple, inside[:, :2])) == [(x, y) for x in (256, 512) for y in (0, 256)]
    # Crossing the edge too: x = 768 holds 232 px of tissue, y = 512 holds 188 px.
    assert sorted(map(tuple, edges[:, :2])) == [
        (x, y) for x in (256, 512, 768) for y in (0, 256, 512)
    ]
    assert (edges[:, 2:4] == 256).all()  # read whole, the outside white


def test_outputs_made_without_the_option_are_still_reused(tmp_path: Path) -> None:
    image, table = _tissue_to_the_edges(tmp_path)
    _coords(image, table, tmp_path / "out")
    with h5py.File(tmp_path / "out/patches/edges.h5", "r+") as h5:  # as before the option
        parameters = h5.attrs["parameters"].replace(', "edge_patches": false', "")
        assert "edge_patches" not in parameters
        h5.attrs["parameters"] = parameters
    again = atlaspatch(
        "segment-and-get-coords", image, "-o", tmp_path / "out", "--patch-size", "256",
        "--target-mag", "20", "--tissue-model", "otsu", "--device", "cpu",
        "--mpp-csv", table, "--skip-existing",
    )  # fmt: skip
    assert again.exit_code == 0 and "skipped" in again.output, again.output
