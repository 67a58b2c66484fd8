"""A slow Cohere in the browser: the other columns show their rows while Cohere still ranks.

The app server runs as a subprocess and calls a fake Cohere on 127.0.0.1 that delays its
first reply for SLOW_REPLY_S, longer than the timeout set in the sidebar. Needs Debian's
Chromium at /usr/bin/chromium (see the `browser` fixture in conftest.py).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.app_server import run_app
from tests.fakes.cohere import RERANK_PATH, install_cohere
from tests.fakes.server import FakeServer, Reply
from tests.many_sessions import FIRST_RESULTS_MS, RERUN_MS, VIEWPORT, submit_query

pytestmark = pytest.mark.browser

KEY = "sk-test-BROWSER-1357"
TIMEOUT_S = 20
# Longer than TIMEOUT_S, so the column ends with the timeout error, not with this reply.
SLOW_REPLY_S = 40.0


@pytest.fixture
def cohere():
    with FakeServer() as server:
        install_cohere(server, api_key=KEY)
        yield server


@pytest.fixture
def server(tmp_path, cohere):
    env = {"COHERE_API_KEY": KEY, "COHERE_BASE_URL": cohere.url}
    try:
        with run_app(tmp_path, extra_env=env) as running:
            yield running
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


def column(page, label: str):
    header = page.get_by_role("heading", name=label, exact=True)
    return page.get_by_test_id("stColumn").filter(has=header)


def test_slow_cohere_delays_only_its_column(browser, server, cohere):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(RERUN_MS)
    try:
        page.goto(server.url)
        expect(column(page, "Cohere Rerank").locator(".rl-row").first).to_be_visible(timeout=FIRST_RESULTS_MS)
        page.get_by_text("Cloud services (Cohere, Gemini)").click()
        timeout_input = page.get_by_role("spinbutton", name="Timeout (seconds)")
        timeout_input.fill(str(TIMEOUT_S))
        timeout_input.press("Enter")
        expect(column(page, "Cohere Rerank").locator(".rl-row").first).to_be_visible(timeout=RERUN_MS)

        cohere.enqueue(RERANK_PATH, Reply(200, {"results": []}, delay=SLOW_REPLY_S))
        submit_query(page, "malaria parasite transmission")

        cohere_column = column(page, "Cohere Rerank")
        expect(cohere_column.get_by_text("Ranking…")).to_be_visible(timeout=RERUN_MS)
        # Every candidate contains a query term, and the previous query had none of these.
        new_terms = re.compile(r"malaria|parasit|transmi", re.IGNORECASE)
        for label in ("BM25", "Bi-encoder", "RRF (BM25 + bi-encoder)"):
            expect(column(page, label).locator("mark", has_text=new_terms).first).to_be_visible(timeout=RERUN_MS)
        # The Cohere column is still waiting while the other columns show their rows.
        expect(cohere_column.get_by_text("Ranking…")).to_be_visible(timeout=1)

        error = cohere_column.get_by_test_id("stAlert")
        expect(error).to_contain_text(f"Cohere sent no response within {TIMEOUT_S} s", timeout=(TIMEOUT_S + 30) * 1000)
        expect(column(page, "BM25").locator(".rl-row")).to_have_count(10, timeout=RERUN_MS)
    finally:
        context.close()
        # pytest shows this output only when the test fails.
        print(f"Streamlit server log tail:\n{server.log_tail()}")
