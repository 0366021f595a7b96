"""The QC page in a real browser (Debian's Chromium, driven by Playwright): it loads with no
error, shows every slide and its picture, filters and sorts, and opens filtered from its
address. Without Chromium these tests skip, unless ATLASPATCH_REQUIRE_BROWSER is set (as
`make test` sets it, after installing Chromium): then they fail."""

from __future__ import annotations

import json
import os
import shutil

import cv2
import numpy as np
import pytest

from tests.cli import coords_run
from tests.conftest import BAD, SLIDES

pytestmark = pytest.mark.shared_data

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As root, and with no network: no sandbox, none of Chromium's own connections.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _browser_or_skip():
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "playwright is not installed"
    if missing is None and not os.path.exists(CHROMIUM):
        missing = f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    if missing:
        if os.environ.get("ATLASPATCH_REQUIRE_BROWSER"):
            pytest.fail(missing)
        pytest.skip(missing)
    return sync_playwright


@pytest.fixture(scope="module")
def output(tmp_path_factory, synthetic_slide):
    slides = tmp_path_factory.mktemp("browser-slides")
    for name in ("CMU-1-Small-Region.svs", "hamamatsu-fluorescence-dapi.ndpi", "small.svs"):
        (slides / name).symlink_to(SLIDES / name)
    (slides / "broken.svs").symlink_to(BAD / "broken.svs")
    (slides / synthetic_slide.path.name).symlink_to(synthetic_slide.path)
    out = tmp_path_factory.mktemp("browser-out")
    coords_run(slides, out)
    (record,) = (out / "reports").glob("*.json")
    return out, json.loads(record.read_text())


@pytest.fixture(scope="module")
def browser():
    sync_playwright = _browser_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    yield page
    page.close()


def _visible(page) -> list[str]:
    return page.eval_on_selector_all(
        "#slides tbody tr", "rows => rows.filter(r => !r.hidden).map(r => r.dataset.name)"
    )


def test_it_loads_without_errors_and_shows_every_slide(page, output) -> None:
    out, record = output
    page.goto((out / "report.html").as_uri())
    page.wait_for_load_state("load")
    assert page.errors == []
    assert sorted(_visible(page)) == sorted(entry["stem"] for entry in record["slides"])
    assert page.inner_text("#shown") == f"{len(record['slides'])} of {len(record['slides'])} slides"
    widths = page.eval_on_selector_all("#slides img", "images => images.map(i => i.naturalWidth)")
    assert len(widths) == 4 and all(width > 0 for width in widths)  # every picture decoded


def test_the_filters_show_what_they_name(page, output) -> None:
    out, record = output
    page.goto((out / "report.html").as_uri())
    failed = sorted(e["stem"] for e in record["slides"] if e["status"] == "failed")
    page.select_option("#show", "failed")
    assert sorted(_visible(page)) == failed
    assert page.evaluate("location.hash") == "#failed"

    page.select_option("#show", "few-patches")
    page.fill("#few", "40")
    few = sorted(
        e["stem"]
        for e in record["slides"]
        if e["num_patches"] is not None and e["num_patches"] < 40
    )
    assert few and sorted(_visible(page)) == few

    page.select_option("#show", "all")
    page.fill("#name", "CMU")
    assert _visible(page) == ["CMU-1-Small-Region"]
    page.fill("#name", "no such slide")
    assert _visible(page) == [] and page.is_visible("#empty")
    assert page.errors == []


def test_the_address_opens_it_filtered(page, output) -> None:
    out, record = output
    page.goto((out / "report.html").as_uri() + "#no-tissue")
    assert page.input_value("#show") == "no-tissue"
    assert "hamamatsu-fluorescence-dapi" in _visible(page)
    assert "synthetic-40x" not in _visible(page)


def test_a_column_sorts_numbers_as_numbers_with_blanks_last(page, output) -> None:
    out, record = output
    page.goto((out / "report.html").as_uri())
    header = page.locator("th", has_text="Patches")
    header.click()
    counts = page.eval_on_selector_all(
        "#slides tbody tr", "rows => rows.map(r => r.dataset.patches)"
    )
    numbers = [int(count) for count in counts if count]
    assert numbers == sorted(numbers) and len(numbers) >= 2
    assert all(count == "" for count in counts[len(numbers) :])
    header.click()
    counts = page.eval_on_selector_all(
        "#slides tbody tr", "rows => rows.map(r => r.dataset.patches)"
    )
    assert [int(count) for count in counts if count] == sorted(numbers, reverse=True)
    assert header.get_attribute("aria-sort") == "descending"


def test_the_screenshot_shows_each_slides_picture(page, output, tmp_path) -> None:
    """What a reader sees: the pixels on screen where a row's picture is are that picture."""
    out, _ = output
    page.goto((out / "report.html").as_uri())
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    screen = cv2.imread(str(shot))
    assert screen is not None and screen.shape[1] == 1400
    for image in page.locator("#slides img").all():
        box = image.bounding_box()
        source = cv2.imread(str(out / image.get_attribute("src")))
        left, top = round(box["x"]), round(box["y"] + page.evaluate("window.scrollY"))
        width, height = round(box["width"]), round(box["height"])
        shown = screen[top : top + height, left : left + width].astype(float)
        expected = cv2.resize(source, (width, height), interpolation=cv2.INTER_AREA)
        assert np.abs(shown - expected).mean() < 12, image.get_attribute("src")
