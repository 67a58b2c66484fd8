"""Drive the running app in headless Chromium: the sample query, a new query and uploads.

The tests need Debian's Chromium at /usr/bin/chromium, because they do not let Playwright
download a browser. Set `RERANKLAB_SCREENSHOT=1` to save a full-page screenshot of the sample
query to docs/screenshot.png.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.app_server import ROOT, AppServer, run_app

pytestmark = pytest.mark.browser

SCREENSHOT = ROOT / "docs" / "screenshot.png"
VIEWPORT = {"width": 1600, "height": 1000}

# Timeouts in milliseconds. The first run of a server loads the bi-encoder and embeds
# the sample corpus, and later reruns reuse both.
FIRST_RESULTS_MS = 90_000
RERUN_MS = 60_000

COLUMN_LABELS = ["BM25", "Bi-encoder", "Cross-encoder", "RRF (BM25 + bi-encoder)"]
CROSS_ENCODER_OFFLINE = "not in a local folder or the Hugging Face cache"


@pytest.fixture(scope="module")
def app_server(tmp_path_factory) -> AppServer:
    """Run the app on a free port for the tests of this module."""
    try:
        with run_app(tmp_path_factory.mktemp("app-server")) as server:
            yield server
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def page(browser, app_server) -> Page:
    """Open the app in a fresh browser context, so every test starts a new Streamlit session."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(RERUN_MS)
    # Streamlit reruns asynchronously, so assertions poll longer than Playwright's 5 s default.
    expect.set_options(timeout=RERUN_MS)
    page.goto(app_server.url)
    yield page
    expect.set_options(timeout=None)
    context.close()
    # pytest shows this output only when the test fails.
    print(f"Streamlit server log tail:\n{app_server.log_tail()}")


def result_column(page: Page, label: str) -> Locator:
    """Return the Streamlit column whose header is `label`."""
    header = page.get_by_role("heading", name=label, exact=True)
    return page.get_by_test_id("stColumn").filter(has=header)


def submit_query(page: Page, query: str) -> None:
    query_input = page.get_by_label("Query", exact=True)
    query_input.fill(query)
    query_input.press("Enter")


def save_screenshot(page: Page, path: Path) -> None:
    """Save the whole app, not only the viewport.

    Streamlit scrolls its main area inside a container, so a full-page screenshot shows
    only one viewport height. The viewport is first made as tall as that content.
    """
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=\"stMain\"], section')]"
        ".map(element => element.scrollHeight))"
    )
    page.set_viewport_size({"width": VIEWPORT["width"], "height": int(height) + 40})
    expect(page.locator(".js-plotly-plot")).to_have_count(2)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)


def test_sample_query_renders_columns_and_charts(page: Page):
    expect(page.locator(".rl-row").first).to_be_visible(timeout=FIRST_RESULTS_MS)
    expect(page.get_by_label("Query", exact=True)).not_to_have_value("")
    for label in COLUMN_LABELS:
        expect(page.get_by_role("heading", name=label, exact=True)).to_be_visible()
    expect(result_column(page, "Cross-encoder").get_by_test_id("stAlert")).to_contain_text(CROSS_ENCODER_OFFLINE)
    expect(result_column(page, "BM25").locator(".rl-row")).to_have_count(10)
    expect(page.locator(".js-plotly-plot")).to_have_count(2)

    if os.environ.get("RERANKLAB_SCREENSHOT") == "1":
        save_screenshot(page, SCREENSHOT)

    first_bm25_title = result_column(page, "BM25").locator(".rl-title").first
    sample_title = first_bm25_title.inner_text()
    submit_query(page, "malaria parasite transmission")

    expect(first_bm25_title).not_to_have_text(sample_title)
    expect(result_column(page, "BM25").locator("mark", has_text=re.compile("malaria", re.I)).first).to_be_visible()


def test_upload_indexes_good_files_and_reports_bad_one(page: Page, tmp_path: Path):
    garden = tmp_path / "garden.txt"
    garden.write_text(
        "Tomato seedlings need warm soil and steady watering. Prune the lower leaves once the "
        "plants flower, and stake them before the fruit gets heavy.\n",
        encoding="utf-8",
    )
    turbines = tmp_path / "turbines.md"
    turbines.write_text(
        "# Tidal Turbine Maintenance\n\n"
        "Tidal turbine blades collect barnacles and kelp. Divers inspect the blade seals every "
        "spring tide and replace corroded bearings on the rotor hub.\n",
        encoding="utf-8",
    )
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"\x00\x13not a pdf at all\xff\xfe" * 20)

    # The sample run must finish first, or the upload races the first model load.
    expect(page.locator(".rl-row").first).to_be_visible(timeout=FIRST_RESULTS_MS)
    page.locator("input[type=file]").set_input_files([garden, turbines, broken])

    error_line = page.get_by_test_id("stAlert").filter(has_text="was not indexed")
    expect(error_line).to_have_count(1)
    expect(error_line).to_contain_text("broken.pdf")
    # The data grid draws on a canvas; its cells are mirrored in a table for screen readers.
    status_table = page.get_by_test_id("stDataFrame")
    for name, status in [("garden.txt", "ok"), ("turbines.md", "ok"), ("broken.pdf", "error")]:
        status_cell = status_table.locator("tr").filter(has_text=name).locator("td").nth(1)
        expect(status_cell).to_have_text(status)
    indexed = page.get_by_test_id("stCaptionContainer").filter(has_text="indexed.")
    expect(indexed).to_have_text(re.compile(r"^2 documents, \d+ passages indexed\.$"))

    submit_query(page, "tidal turbine blade barnacles")

    first_bm25 = result_column(page, "BM25").locator(".rl-row").first
    expect(first_bm25.locator(".rl-title")).to_have_text("Tidal Turbine Maintenance")
    expect(first_bm25.locator("summary")).to_contain_text("turbines.md#")
