"""Streamlit AppTest runs of the compare page: sample corpus, upload, query and columns."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")


ROW = '<div class="rl-row"'


def result_rows(at: AppTest) -> list[str]:
    """Return the HTML of the result rows, one string per column that has results."""
    return [element.proto.body for element in at.get("html") if element.proto.body.startswith(ROW)]


def first_row(column_html: str) -> str:
    return column_html.split(ROW)[1]


def column_headers(at: AppTest) -> list[str]:
    return [m.value.removeprefix("#### ") for m in at.markdown if m.value.startswith("#### ")]


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    return at


def test_sample_corpus_shows_every_column(app):
    assert column_headers(app) == ["BM25", "Bi-encoder", "Cross-encoder", "RRF (BM25 + bi-encoder)"]
    example = json.loads((ROOT / "assets" / "example_queries.json").read_text())[0]
    assert app.text_input(key="widget_query").value == example
    assert any("296 documents" in caption.value for caption in app.caption)
    assert len(result_rows(app)) == 3
    assert len(app.get("plotly_chart")) == 2


def test_cross_encoder_column_explains_offline_fix(app):
    messages = [error.value for error in app.error]
    assert len(messages) == 1
    assert "cross-encoder/ms-marco-MiniLM-L6-v2" in messages[0]
    assert "RERANKLAB_CROSS_ENCODER" in messages[0]


def test_upload_query_and_columns(app):
    good = b"Photosynthesis converts light energy into chemical energy in chloroplasts."
    other = b"# Tides\n\nOcean tides rise and fall twice a day because of the moon's gravity."
    app.file_uploader[0].set_value(
        [
            ("plants.txt", good, "text/plain"),
            ("tides.md", other, "text/markdown"),
            ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "application/pdf"),
        ]
    )
    app.run()
    assert not app.exception, app.exception

    errors = [error.value for error in app.error]
    assert any("broken.pdf" in message for message in errors)
    assert any("2 documents, 2 passages indexed." in caption.value for caption in app.caption)
    status = app.dataframe[0].value
    assert list(status["file"]) == ["plants.txt", "tides.md", "broken.pdf"]
    assert list(status["status"]) == ["ok", "ok", "error"]

    app.text_input(key="widget_query").set_value("why do ocean tides rise")
    app.button[0].click()
    app.run()
    assert not app.exception, app.exception
    bm25_top = first_row(result_rows(app)[0])
    assert "Tides" in bm25_top
    assert "<mark>tides</mark>" in bm25_top.lower()


def test_csv_upload_uses_chosen_columns(app):
    table = io.StringIO()
    table.write("heading,body,notes\n")
    table.write("Volcanoes,Lava erupts from volcanoes when magma reaches the surface.,x\n")
    table.write("Glaciers,Glaciers carve valleys as the ice moves slowly downhill.,y\n")
    app.file_uploader[0].set_value(("geo.csv", table.getvalue().encode(), "text/csv"))
    app.run()
    assert app.selectbox(key="csv_text_geo.csv").value == "body"
    assert app.selectbox(key="csv_title_geo.csv").value == "heading"

    app.text_input(key="widget_query").set_value("ice carving valleys")
    app.button[0].click()
    app.run()
    assert not app.exception, app.exception
    assert "Glaciers" in first_row(result_rows(app)[0])


def test_invalid_overlap_is_reported(app):
    app.number_input(key="widget_overlap_words").set_value(200)
    app.run()
    messages = [error.value for error in app.error]
    assert any("overlap_words" in message for message in messages)



def test_extractive_answer_without_key(app, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    app.button(key="answer_bm25").click()
    app.run()
    assert not app.exception, app.exception
    assert any(caption.value == "Extractive answer (no Gemini key)" for caption in app.caption)
    answers = [e.proto.body for e in app.get("html") if e.proto.body.startswith('<div class="rl-answer">')]
    assert len(answers) == 1
    assert '<a href="#rl-bm25-' in answers[0]
    assert any(caption.value.startswith("Cites: [") for caption in app.caption)


def test_judgments_shown_after_restart(tmp_path, monkeypatch):
    from reranklab.judgments import JudgmentStore

    monkeypatch.setenv("RERANKLAB_DATA_DIR", str(tmp_path))
    first = AppTest.from_file(APP, default_timeout=180)
    first.run()
    table = first.dataframe[0].value
    assert list(table.columns[:3]) == ["grade", "passage_id", "doc_id"]
    assert table["grade"].isna().all()

    passage_id, doc_id = table.iloc[0]["passage_id"], table.iloc[0]["doc_id"]
    corpus_id = _corpus_id_of_sample()
    JudgmentStore(tmp_path / "judgments.sqlite").set_grade(
        corpus_id, first.text_input(key="widget_query").value, passage_id, doc_id, 2
    )

    restarted = AppTest.from_file(APP, default_timeout=180)
    restarted.run()
    table = restarted.dataframe[0].value
    assert table.loc[table["passage_id"] == passage_id, "grade"].tolist() == [2]
    assert any(caption.value.startswith("Judged queries for this corpus: 1.") for caption in restarted.caption)


def _corpus_id_of_sample() -> str:
    from reranklab.corpus import Corpus

    return Corpus.from_paths([ROOT / "assets" / "sample_corpus.jsonl"]).document_id


def test_int8_checkbox_quantizes_cross_encoder(tiny_cross_encoder_path, monkeypatch):
    monkeypatch.setenv("RERANKLAB_CROSS_ENCODER", tiny_cross_encoder_path)
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()

    at.checkbox(key="widget_cross_encoder_int8").check()
    at.run()

    assert not at.exception, at.exception
    assert not at.error, [error.value for error in at.error]
    assert "Cross-encoder" in column_headers(at)
    assert len(result_rows(at)) == 4
    # Keys are (corpus fingerprint, RerankerSettings, methods); values are (rerankers, unavailable).
    built = [rerankers for key, (rerankers, _) in at.session_state["rerankers_by_key"].items() if key[1].cross_encoder_int8]
    assert len(built) == 1
    assert built[0]["cross-encoder"].int8


def test_click_reuses_comparison(app):
    before = app.session_state["comparison"]

    app.button(key="answer_bm25").click().run()

    assert not app.exception, app.exception
    after = app.session_state["comparison"]
    assert after.query == before.query
    # A recomputed comparison would have measured new latencies.
    assert after.results["bm25"].latency_ms == before.results["bm25"].latency_ms
    assert after.results["bi-encoder"].latency_ms == before.results["bi-encoder"].latency_ms
    assert column_headers(app)[:2] == ["BM25", "Bi-encoder"]
    assert len(result_rows(app)) == 3


def test_rerank_button_recomputes(app):
    before = app.session_state["comparison"]

    app.button[0].click().run()

    assert not app.exception, app.exception
    after = app.session_state["comparison"]
    assert after.query == before.query
    assert after.results["bi-encoder"].latency_ms != before.results["bi-encoder"].latency_ms
