"""Drive several browser sessions on one app server, each with its own upload and queries.

tests/test_many_sessions.py checks that the sessions stay apart, and
benchmarks/many_sessions.py measures the server's memory while they run. Each session
is a separate Playwright browser context, so Streamlit starts a separate session with
its own session state for each, as it does for separate users.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, expect

VIEWPORT = {"width": 1400, "height": 900}
# Timeouts in milliseconds. The first run of a server loads the models and embeds the
# sample corpus while every session waits for it.
FIRST_RESULTS_MS = 180_000
RERUN_MS = 90_000

# One topic per session. Each topic word occurs in that session's files only.
TOPICS = {
    "glacier": (
        "Glacier ice carves deep valleys as the glacier creeps downhill.",
        "Meltwater from the glacier feeds the mountain rivers in summer.",
    ),
    "violin": (
        "A violin has four strings tuned in fifths.",
        "Violin makers carve the spruce top and the maple back by hand.",
    ),
    "cactus": (
        "A cactus stores water in its thick stem.",
        "Cactus spines are leaves that shade the plant and keep animals away.",
    ),
    "submarine": (
        "A submarine dives by flooding its ballast tanks.",
        "Sonar lets the submarine find its way under the ice.",
    ),
    "beehive": (
        "Worker bees in the beehive build wax cells for honey.",
        "The beehive keeps a steady warmth around the brood in winter.",
    ),
}


@dataclass
class Session:
    """One browser session: its topic, its corpus files and its page."""

    topic: str
    files: list[Path]
    context: BrowserContext
    page: Page

    @property
    def file_names(self) -> list[str]:
        return [path.name for path in self.files]


def write_corpus(folder: Path, topic: str) -> list[Path]:
    """Write the two files of one topic's corpus and return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    first, second = TOPICS[topic]
    notes = folder / f"{topic}-notes.txt"
    notes.write_text(first + "\n", encoding="utf-8")
    facts = folder / f"{topic}-facts.md"
    facts.write_text(f"# {topic.title()} facts\n\n{second}\n", encoding="utf-8")
    return [notes, facts]


def open_sessions(browser: Browser, url: str, folder: Path, topics: list[str] | None = None) -> list[Session]:
    """Open one browser context per topic (default: all) and wait until each shows the sample results."""
    sessions = []
    for topic in topics or list(TOPICS):
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        page.set_default_timeout(RERUN_MS)
        page.goto(url)
        sessions.append(Session(topic, write_corpus(folder / topic, topic), context, page))
    for session in sessions:
        expect(session.page.locator(".rl-row").first).to_be_visible(timeout=FIRST_RESULTS_MS)
    return sessions


def upload_corpora(sessions: list[Session]) -> None:
    """Upload every session's files, then wait until each session has indexed its own two."""
    for session in sessions:
        session.page.locator("input[type=file]").set_input_files(session.files)
    for session in sessions:
        # While the page reruns, the sample corpus caption can still be on the page next to this one.
        indexed = session.page.get_by_test_id("stCaptionContainer").filter(has_text="2 documents, 2 passages indexed.")
        expect(indexed).to_have_count(1, timeout=RERUN_MS)


def submit_query(page: Page, query: str) -> None:
    query_input = page.get_by_label("Query", exact=True)
    query_input.fill(query)
    query_input.press("Enter")


def query_own_topics(sessions: list[Session]) -> None:
    """Submit each session's topic as its query, then wait for its BM25 column to show its files."""
    for session in sessions:
        submit_query(session.page, f"{session.topic} facts")
    for session in sessions:
        bm25 = bm25_rows(session.page)
        expect(bm25.first.locator("summary")).to_contain_text(re.compile(rf"^{session.topic}-"), timeout=RERUN_MS)
        expect(bm25).to_have_count(2, timeout=RERUN_MS)


def bm25_rows(page: Page):
    header = page.get_by_role("heading", name="BM25", exact=True)
    return page.get_by_test_id("stColumn").filter(has=header).locator(".rl-row")


def wait_until_idle(page: Page) -> None:
    """Wait until the app reports that no script run is in progress for this session."""
    expect(page.locator("[data-test-script-state='notRunning']")).to_have_count(1, timeout=RERUN_MS)


def close_sessions(sessions: list[Session]) -> None:
    for session in sessions:
        session.context.close()
