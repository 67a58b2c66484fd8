"""Five browser sessions on one app server: separate corpora and results, models loaded once.

Needs Debian's Chromium at /usr/bin/chromium (see the `browser` fixture in conftest.py).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.app_server import run_app
from tests.many_sessions import (
    RERUN_MS,
    TOPICS,
    bm25_rows,
    close_sessions,
    open_sessions,
    query_own_topics,
    submit_query,
    upload_corpora,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def server(tmp_path, tiny_cross_encoder_path):
    """Run the app with the tiny cross-encoder, so that both model kinds load."""
    env = {"RERANKLAB_CROSS_ENCODER": tiny_cross_encoder_path, "RERANKLAB_DATA_DIR": str(tmp_path / "data")}
    folder = tmp_path / "server"
    folder.mkdir()
    try:
        with run_app(folder, extra_env=env) as running:
            yield running
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


def test_five_sessions_stay_apart(browser, server, tmp_path):
    sessions = []
    try:
        sessions = open_sessions(browser, server.url, tmp_path / "corpora")
        upload_corpora(sessions)
        query_own_topics(sessions)

        for session in sessions:
            text = session.page.get_by_test_id("stMain").inner_text()
            for name in session.file_names:
                assert name in text, (session.topic, name)
            for other in TOPICS:
                if other != session.topic:
                    assert f"{other}-" not in text, (session.topic, other)

        # A query for another session's topic finds nothing in this session's corpus.
        first, second = sessions[0], sessions[1]
        submit_query(first.page, second.topic)
        no_match = first.page.get_by_test_id("stAlert").filter(has_text="BM25 found no passage")
        expect(no_match).to_have_count(1, timeout=RERUN_MS)
        expect(bm25_rows(second.page).first.locator("summary")).to_contain_text(re.compile(rf"^{second.topic}-"))
    finally:
        close_sessions(sessions)
        # pytest shows this output only when the test fails.
        print(f"Streamlit server log tail:\n{server.log_tail()}")

    log = server.log_path.read_text(encoding="utf-8", errors="replace")
    assert log.count("loading SentenceTransformer from") == 1
    assert log.count("loading CrossEncoder from") == 1
    assert "Traceback" not in log
