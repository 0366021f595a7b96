"""Microns per pixel and magnification: CSV overrides, metadata, clear failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from atlaspatch.orchestrator.slides.discovery import discover_slides
from atlaspatch.orchestrator.slides.errors import SlideError
from atlaspatch.orchestrator.slides.magnification import (
    load_mpp_csv,
    magnification_from_mpp,
    resolve_scale,
)
from atlaspatch.orchestrator.slides.slide import open_slide
from tests.conftest import SLIDES


def scale_of(path: Path, table: dict[str, float] | None = None):
    source = discover_slides(path)[0]
    reader = open_slide(source)
    try:
        return resolve_scale(source, reader.properties, table or {})
    finally:
        reader.close()


@pytest.mark.parametrize(
    "mpp, expected", [(0.25, 40), (0.2527, 40), (0.499, 20), (1.0, 10), (0.3, 33.333)]
)
def test_magnification_from_mpp_snaps_only_when_close(mpp: float, expected: float) -> None:
    assert magnification_from_mpp(mpp) == pytest.approx(expected, abs=1e-3)


def test_csv_matches_by_file_name_or_stem(tmp_path: Path) -> None:
    csv = tmp_path / "mpp.csv"
    csv.write_text("wsi,mpp\nTCGA-CR-7395-01A-01-TS1.svs,0.25\n/elsewhere/boxes,0.5\n\n")
    table = load_mpp_csv(csv)
    assert table["TCGA-CR-7395-01A-01-TS1"] == 0.25 and table["boxes"] == 0.5


@pytest.mark.parametrize(
    "text, message",
    [
        ("name,mpp\na,0.2\n", "needs columns"),
        ("wsi,mpp\na,abc\n", "not a number"),
        ("wsi,mpp\na,900\n", "outside"),
    ],
)
def test_bad_csv_is_refused_with_the_line(tmp_path: Path, text: str, message: str) -> None:
    csv = tmp_path / "mpp.csv"
    csv.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_mpp_csv(csv)


@pytest.mark.shared_data
def test_metadata_gives_magnification() -> None:
    cmu = scale_of(SLIDES / "CMU-1-Small-Region.svs")
    assert (cmu.magnification, cmu.mpp) == (20, pytest.approx(0.499))
    ndpi = scale_of(SLIDES / "hamamatsu-fluorescence-dapi.ndpi")
    assert ndpi.magnification == 40
    dicom = scale_of(SLIDES / "dicom-cmu-1-small-region")  # mpp only, no objective power
    assert (dicom.magnification, dicom.source) == (20, "metadata mpp")


@pytest.mark.shared_data
@pytest.mark.parametrize("name", ["TCGA-CR-7395-01A-01-TS1.svs", "boxes.tiff"])
def test_missing_or_implausible_mpp_is_a_clear_error(name: str) -> None:
    # boxes.tiff carries a default 72-dpi TIFF resolution (352.8 µm/px), which is not an mpp.
    with pytest.raises(SlideError, match="--mpp-csv"):
        scale_of(SLIDES / name)


@pytest.mark.shared_data
def test_csv_overrides_metadata_including_objective_power() -> None:
    scale = scale_of(SLIDES / "CMU-1-Small-Region.svs", {"CMU-1-Small-Region": 0.25})
    assert (scale.mpp, scale.magnification, scale.source) == (0.25, 40, "mpp-csv")


def test_a_slide_named_twice_in_the_mpp_table_with_different_values_is_an_error() -> None:
    from atlaspatch.orchestrator.slides.magnification import mpp_override
    from atlaspatch.orchestrator.slides.slide import SlideSource

    source = SlideSource(Path("/slides/a.svs"), Path("/slides/a.svs"), "a")
    assert mpp_override(source, {"a.svs": 0.25, "a": 0.25}) == 0.25  # agreeing: fine
    assert mpp_override(source, {"b.svs": 0.5}) is None
    with pytest.raises(SlideError, match="names this slide twice.*0.25 for 'a.svs', 0.5 for 'a'"):
        mpp_override(source, {"a.svs": 0.25, "a": 0.5})
