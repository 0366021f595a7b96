"""The QC page of a run (`<output>/report.html`): one row per slide with the run's verdict,
the numbers of its HDF5 file, and a picture of its mask and patches; rebuilt from an
existing output root by `atlaspatch report`, from the HDF5 files where the pictures are gone."""

from __future__ import annotations

import json
import shutil

import cv2
import h5py
import numpy as np
import pytest

from atlaspatch.orchestrator import python_api as ap
from atlaspatch.orchestrator.coordinates.regions import drop_small_regions
from atlaspatch.orchestrator.run_report.page import render
from atlaspatch.orchestrator.run_report.rows import RunOverview, SlideRow
from tests.cli import atlaspatch, coords_run
from tests.conftest import BAD, SLIDES
from tests.qc_page import page_rows

pytestmark = pytest.mark.shared_data

REAL = ("CMU-1-Small-Region.svs", "hamamatsu-fluorescence-dapi.ndpi", "small.svs")


@pytest.fixture(scope="module")
def slides(tmp_path_factory, synthetic_slide):
    """Two slides that finish, one without tissue, one too small, one that cannot open."""
    folder = tmp_path_factory.mktemp("qc-slides")
    for name in REAL:
        (folder / name).symlink_to(SLIDES / name)
    (folder / "broken.svs").symlink_to(BAD / "broken.svs")
    (folder / synthetic_slide.path.name).symlink_to(synthetic_slide.path)
    return folder


@pytest.fixture(scope="module")
def run(tmp_path_factory, slides):
    out = tmp_path_factory.mktemp("qc-out")
    result = coords_run(slides, out, "--save-geojson")
    assert result.exit_code == 1, result.output  # three slides fail, on purpose
    (record,) = (out / "reports").glob("*.json")
    return out, json.loads(record.read_text())


def test_every_slide_has_a_row_with_its_verdict_and_its_files_numbers(run) -> None:
    out, record = run
    rows = page_rows(out / "report.html")
    assert set(rows) == {entry["stem"] for entry in record["slides"]}
    for entry in record["slides"]:
        row = rows[entry["stem"]]
        assert row["status"] == entry["status"]
        assert row["reason"] == " ".join(entry["reason"].split())
        if entry["status"] != "done":
            continue
        with h5py.File(entry["output"]) as h5:
            assert int(row["patches"].replace(",", "")) == len(h5["coords"])
            assert row["magnification"] == f"{float(h5.attrs['level0_magnification']):g}x"
            assert float(row["mpp"]) == pytest.approx(float(h5.attrs["mpp"]), abs=1e-4)
            assert row["scale_from"] == h5.attrs["magnification_source"]
        assert float(row["seconds"]) == pytest.approx(sum(entry["seconds"].values()), abs=0.01)
        assert row["images"] and (out / row["images"][0]).is_file()
        assert "GeoJSON" in row["slide"]
    failed = {stem for stem, row in rows.items() if row["status"] == "failed"}
    assert failed == {"hamamatsu-fluorescence-dapi", "small", "broken"}
    assert rows["broken"]["images"] == []  # it never opened: no picture to show
    assert rows["hamamatsu-fluorescence-dapi"]["images"]  # the picture shows why it failed
    assert rows["hamamatsu-fluorescence-dapi"]["data"]["data-no-tissue"] == "1"
    summary = (out / "report.html").read_text()
    assert "<b>3</b> failed" in summary and "<b>5</b> slides" in summary


def test_the_picture_is_the_thumbnail_with_the_kept_patches_shaded(run, synthetic_slide) -> None:
    out, _ = run
    row = page_rows(out / "report.html")["synthetic-40x"]
    card = cv2.cvtColor(cv2.imread(str(out / row["images"][0])), cv2.COLOR_BGR2RGB)
    with ap.open_slide(synthetic_slide.path) as slide:
        thumbnail = slide.thumbnail
        mask = drop_small_regions(slide.segment(ap.segmenter("otsu")), 0)
    with h5py.File(out / "patches" / "synthetic-40x.h5") as h5:
        xy, side0 = h5["coords"][:, :2], int(h5.attrs["patch_size_level0"])
        level0_width = int(h5.attrs["level0_width"])
    assert max(card.shape[:2]) == 512
    assert card.shape[1] / card.shape[0] == pytest.approx(
        thumbnail.shape[1] / thumbnail.shape[0], 0.01
    )
    assert float(row["tissue"]) == pytest.approx(100 * mask.mean(), abs=1.0)

    plain = cv2.resize(thumbnail, card.shape[1::-1], interpolation=cv2.INTER_AREA)
    per_level0 = card.shape[1] / level0_width
    covered = np.zeros(card.shape[:2], bool)
    for x, y in np.round(xy * per_level0).astype(int):
        side = round(side0 * per_level0)
        covered[y + 2 : y + side - 2, x + 2 : x + side - 2] = True  # inside, off the outlines
    shift = card.astype(float) - plain.astype(float)
    assert shift[covered][:, 2].mean() < -15  # shaded amber: less blue where patches are
    far = cv2.dilate(covered.astype(np.uint8), np.ones((15, 15), np.uint8)) == 0
    far &= cv2.resize(mask.astype(np.uint8), card.shape[1::-1]) == 0
    assert np.abs(shift[far]).mean() < 6  # elsewhere the thumbnail as it is


def test_a_rerun_keeps_the_numbers_of_the_run_that_made_them(tmp_path, synthetic_slide) -> None:
    first = coords_run(synthetic_slide.path, tmp_path)
    assert first.exit_code == 0, first.output
    before = page_rows(tmp_path / "report.html")["synthetic-40x"]
    again = coords_run(synthetic_slide.path, tmp_path)
    assert again.exit_code == 0, again.output
    after = page_rows(tmp_path / "report.html")["synthetic-40x"]
    assert after["status"] == "skipped"
    for column in ("patches", "tissue", "magnification", "seconds"):
        assert after[column] == before[column]
    assert after["images"] == before["images"]
    assert "2 runs" in (tmp_path / "report.html").read_text()


def test_the_report_command_rebuilds_the_page_from_the_hdf5_files(tmp_path, run) -> None:
    out = tmp_path / "copy"
    shutil.copytree(run[0], out, symlinks=True)
    shutil.rmtree(out / "report_files")
    shutil.rmtree(out / "reports")
    (out / "report.html").unlink()
    result = atlaspatch("report", out)
    assert result.exit_code == 0, result.output
    rows = page_rows(out / "report.html")
    assert set(rows) == {path.stem for path in (out / "patches").glob("*.h5")}
    for stem, row in rows.items():
        with h5py.File(out / "patches" / f"{stem}.h5") as h5:
            assert int(row["patches"].replace(",", "")) == int(h5.attrs["num_patches"])
            assert row["magnification"] == f"{float(h5.attrs['level0_magnification']):g}x"
        assert row["picture"] == "no picture" and row["status"] == "done"


def test_per_configuration_roots_get_a_page_each(tmp_path, synthetic_slide) -> None:
    for size in ("256", "512"):
        result = coords_run(
            synthetic_slide.path, tmp_path, "--patch-size", size, "--output-layout", "per-config"
        )
        assert result.exit_code == 0, result.output
    pages = sorted(tmp_path.glob("*/report.html"))
    assert [page.parent.name for page in pages] == [
        "20x_256px_0px_overlap",
        "20x_512px_0px_overlap",
    ]
    for page in pages:
        page.unlink()
    result = atlaspatch("report", tmp_path)
    assert result.exit_code == 0, result.output
    assert all(page.is_file() for page in pages)


def test_a_folder_that_is_no_output_root_is_refused(tmp_path) -> None:
    result = atlaspatch("report", tmp_path)
    assert result.exit_code == 1
    assert "holds no AtlasPatch output" in result.output


def test_names_and_reasons_are_shown_as_text_never_as_markup(tmp_path) -> None:
    stem = '<img src=x onerror="alert(1)">&co'
    reason = "<script>alert(2)</script> & more"
    row = SlideRow(stem, slide=f"{stem}.svs", status="failed", reason=reason)
    page = tmp_path / "report.html"
    page.write_text(render(RunOverview([row], []), tmp_path))
    assert "<script>alert" not in page.read_text() and "<img src=x" not in page.read_text()
    shown = page_rows(page)[stem]
    assert shown["slide"] == f"{stem}.svs" and shown["reason"] == reason
