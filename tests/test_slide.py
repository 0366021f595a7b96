"""Slide readers and discovery on the real files in ../shared/data."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import openslide
import pytest

from atlaspatch.orchestrator.slides.discovery import DiscoveryError, discover_slides
from atlaspatch.orchestrator.slides.errors import SlideError
from atlaspatch.orchestrator.slides.slide import SlideSource, open_slide
from tests.conftest import BAD, SLIDES, TILES

pytestmark = pytest.mark.shared_data


def source(path: Path) -> SlideSource:
    return discover_slides(path)[0]


@pytest.mark.parametrize(
    "name, vendor, levels",
    [
        ("CMU-1-Small-Region.svs", "aperio", 1),
        ("TCGA-CR-7395-01A-01-TS1.svs", "aperio", 2),
        ("hamamatsu-fluorescence-dapi.ndpi", "hamamatsu", 7),
        ("boxes.tiff", "generic-tiff", 4),
        ("small.svs", "aperio", 1),
        ("dicom-cmu-1-small-region", "dicom", 12),
    ],
)
def test_every_real_format_opens_and_reads(name: str, vendor: str, levels: int) -> None:
    reader = open_slide(source(SLIDES / name))
    try:
        assert reader.vendor == vendor
        assert len(reader.level_dimensions) == levels
        width, height = reader.level_dimensions[-1]
        pixels = reader.read_region((0, 0), levels - 1, (min(width, 8), min(height, 8)))
        assert pixels.dtype == np.uint8 and pixels.shape == (min(height, 8), min(width, 8), 3)
    finally:
        reader.close()


def test_reader_matches_openslide_directly() -> None:
    path = SLIDES / "CMU-1-Small-Region.svs"
    reader = open_slide(source(path))
    expected = np.asarray(openslide.OpenSlide(str(path)).read_region((500, 700), 0, (64, 32)))
    assert np.array_equal(reader.read_region((500, 700), 0, (64, 32)), expected[..., :3])
    reader.close()


def test_dicom_series_is_one_slide_given_as_folder_or_any_file() -> None:
    folder = SLIDES / "dicom-cmu-1-small-region"
    by_folder = discover_slides(folder)
    by_file = discover_slides(folder / "level-3-frames-0-1.dcm")
    assert [s.stem for s in by_folder] == [s.stem for s in by_file] == ["dicom-cmu-1-small-region"]
    assert open_slide(by_file[0]).level_dimensions[0] == (2220, 2967)


def test_folder_discovery_lists_supported_slides_sorted() -> None:
    names = [s.name for s in discover_slides(SLIDES)]
    assert names == sorted(names)
    assert set(names) == {
        "CMU-1-Small-Region.svs",
        "TCGA-CR-7395-01A-01-TS1.svs",
        "boxes.tiff",
        "dicom-cmu-1-small-region",
        "hamamatsu-fluorescence-dapi.ndpi",
        "small.svs",
    }


def test_recursive_discovery_and_unsupported_files(tmp_path: Path) -> None:
    (tmp_path / "nested" / "deeper").mkdir(parents=True)
    shutil.copy(SLIDES / "small.svs", tmp_path / "nested" / "deeper" / "a.svs")
    shutil.copy(TILES / "no-tissue.png", tmp_path / "b.png")
    (tmp_path / "notes.txt").write_text("not a slide")
    assert [s.name for s in discover_slides(tmp_path)] == ["b.png"]
    assert [s.name for s in discover_slides(tmp_path, recursive=True)] == ["b.png", "a.svs"]
    with pytest.raises(DiscoveryError, match="does not exist"):
        discover_slides(tmp_path / "missing")


def test_plain_image_reads_like_pillow() -> None:
    from PIL import Image

    path = TILES / "tissue-level0-4302-10273-4814-10785.png"
    reader = open_slide(source(path))
    expected = np.asarray(Image.open(path).convert("RGB"))
    assert reader.level_dimensions == ((expected.shape[1], expected.shape[0]),)
    assert np.array_equal(reader.read_region((10, 20), 0, (30, 40)), expected[20:60, 10:40])


@pytest.mark.parametrize(
    "name, reason",
    [
        ("broken.svs", "cannot open"),
        ("unopenable.tiff", "cannot open"),
    ],
)
def test_bad_files_fail_to_open_with_a_reason(name: str, reason: str) -> None:
    with pytest.raises(SlideError, match=reason):
        open_slide(source(BAD / name))


def test_unreadable_pixels_raise_instead_of_returning_blank() -> None:
    reader = open_slide(source(BAD / "unreadable.svs"))
    with pytest.raises(SlideError, match="reading pixels failed"):
        reader.read_region((0, 0), 0, (16, 16))
