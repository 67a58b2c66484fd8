"""Hostile input in the app, through Streamlit's AppTest: uploads, markup, queries, models.

Each test checks that the page runs without an exception, that a bad file or value gets
an st.error or st.warning naming it, and that the good part of the upload is indexed.
"""

from __future__ import annotations

import io
import logging
import shutil
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.test_app import column_headers, first_row, result_rows
from tests.test_loading import encrypt_pdf, make_pdf

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")

GOOD = ("good.txt", b"Photosynthesis converts light energy into chemical energy in chloroplasts.", "text/plain")


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    return at


def upload(at: AppTest, files: list[tuple[str, bytes, str]]) -> None:
    at.file_uploader[0].set_value(files)
    at.run()
    assert not at.exception, at.exception


def ask(at: AppTest, query: str) -> None:
    at.text_input(key="widget_query").set_value(query)
    at.button[0].click()
    at.run()
    assert not at.exception, at.exception


def errors_by_file(at: AppTest) -> dict[str, str]:
    """Return the reason of every "**file** was not indexed" error, by file name."""
    found = {}
    for error in at.error:
        if " was not indexed. Reason: " in error.value:
            name, reason = error.value.split(" was not indexed. Reason: ")
            found[name.strip("*")] = reason
    return found


def status_rows(at: AppTest) -> dict[str, dict]:
    table = at.dataframe[0].value
    return {row["file"]: row for row in table.to_dict("records")}


# --- files ---------------------------------------------------------------------------


def test_bad_files_named_good_files_indexed(app, tmp_path):
    scanned = make_pdf(tmp_path / "scanned.pdf", [""]).read_bytes()
    locked = encrypt_pdf(make_pdf(tmp_path / "plain.pdf", ["Secret"]), tmp_path / "locked.pdf", "pw").read_bytes()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("readme.txt", "not a Word document")
    bad_jsonl = b'{"_id": "j1", "text": "Chlorophyll absorbs red and blue light."}\n{not json\n[1, 2]\n'
    ragged = b"title,text\nOne,Leaves contain chlorophyll\nTwo\nThree,Roots absorb water,extra\n"

    upload(
        app,
        [
            GOOD,
            ("empty.txt", b"", "text/plain"),
            ("zero.pdf", b"", "application/pdf"),
            ("corrupt.pdf", b"%PDF-1.4 this is not really a pdf", "application/pdf"),
            ("locked.pdf", locked, "application/pdf"),
            ("scanned.pdf", scanned, "application/pdf"),
            ("archive.docx", archive.getvalue(), "application/octet-stream"),
            ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" * 20, "text/plain"),
            ("latin1.txt", "Crème brûlée: sugar caramelises under the flame.".encode("latin-1"), "text/plain"),
            ("utf16.txt", "Grüne Blätter nutzen Licht.".encode("utf-16"), "text/plain"),
            ("ragged.csv", ragged, "text/csv"),
            ("bad.jsonl", bad_jsonl, "application/json"),
        ],
    )

    reasons = errors_by_file(app)
    assert sorted(reasons) == sorted(
        ["empty.txt", "zero.pdf", "corrupt.pdf", "locked.pdf", "scanned.pdf", "archive.docx", "image.txt"]
    )
    assert reasons["empty.txt"] == "is empty"
    assert reasons["zero.pdf"] == "is empty"
    assert "not a readable PDF" in reasons["corrupt.pdf"]
    assert "encrypted; remove the password" in reasons["locked.pdf"]
    assert "no extractable text" in reasons["scanned.pdf"]
    assert "not a valid Word .docx file" in reasons["archive.docx"]
    assert "binary" in reasons["image.txt"]

    rows = status_rows(app)
    assert rows["good.txt"]["status"] == "ok"
    assert rows["latin1.txt"]["documents"] == 1
    assert rows["utf16.txt"]["documents"] == 1
    assert rows["ragged.csv"]["documents"] == 2
    assert "rows 2, 3" in rows["ragged.csv"]["warnings"]
    assert rows["bad.jsonl"]["documents"] == 1
    assert "line 2: invalid JSON" in rows["bad.jsonl"]["warnings"]
    assert "line 3:" in rows["bad.jsonl"]["warnings"]
    assert any("6 documents, 6 passages indexed." in caption.value for caption in app.caption)

    ask(app, "crème brûlée caramelises")
    assert "latin1.txt" in first_row(result_rows(app)[0])


def test_file_over_size_limit_named(app):
    assert app.number_input(key="widget_max_file_mib").value == 50
    app.number_input(key="widget_max_file_mib").set_value(1)
    app.run()

    upload(app, [("big.txt", b"chlorophyll " * 140_000, "text/plain"), GOOD])

    reasons = errors_by_file(app)
    assert list(reasons) == ["big.txt"]
    assert reasons["big.txt"] == (
        "is 1.6 MiB, larger than the maximum file size of 1.0 MiB; "
        "split it into smaller files or raise the maximum file size"
    )
    assert status_rows(app)["good.txt"]["status"] == "ok"

    app.number_input(key="widget_max_file_mib").set_value(2)
    app.run()
    assert errors_by_file(app) == {}
    assert status_rows(app)["big.txt"]["status"] == "ok"


def test_duplicates_flagged_in_status_rows(app):
    text = b"Ocean tides rise and fall twice a day because of the moon."
    beir = b'{"_id": "t1", "text": "Ocean tides rise and fall twice a day because of the moon."}\n' \
           b'{"_id": "t2", "text": "Volcanoes erupt when magma reaches the surface."}\n'

    upload(app, [("tides.txt", text, "text/plain"), ("copy.txt", text, "text/plain"), ("beir.jsonl", beir, "application/json")])

    rows = status_rows(app)
    assert [rows[name]["duplicates"] for name in ("tides.txt", "copy.txt", "beir.jsonl")] == [0, 1, 1]
    assert [rows[name]["documents"] for name in ("tides.txt", "copy.txt", "beir.jsonl")] == [1, 0, 1]
    assert "copy.txt (same text as tides.txt)" in rows["copy.txt"]["warnings"]
    assert "t1 (same text as tides.txt)" in rows["beir.jsonl"]["warnings"]
    assert any("2 documents, 2 passages indexed." in caption.value for caption in app.caption)


def test_csv_replaced_without_chosen_column(app):
    upload(app, [("data.csv", b"heading,body\nTides,Ocean tides rise twice a day.\n", "text/csv")])
    assert app.selectbox(key="csv_text_data.csv").value == "body"

    upload(app, [("data.csv", b"name,bio\nAda,Wrote the first program.\n", "text/csv")])

    assert app.selectbox(key="csv_text_data.csv").value in ("name", "bio")
    assert status_rows(app)["data.csv"]["status"] in ("ok", "warnings")


def test_empty_csv_named_others_kept(app):
    upload(app, [("empty.csv", b"", "text/csv"), GOOD])

    assert any("empty.csv" in error.value for error in app.error)
    assert status_rows(app)["good.txt"]["status"] == "ok"


# --- markup --------------------------------------------------------------------------


def test_markup_in_passages_shown_as_text(app):
    page = (
        b"<html><head><title>Leaves</title><style>p { color: red; }</style>"
        b"<script>document.title = 'hacked';</script></head>"
        b"<body><p>Chlorophyll makes leaves green.</p><script>alert('run')</script></body></html>"
    )
    notes = (
        b"# <i>Notes</i>\n\n**Chlorophyll** <b>bold</b> <img src=x onerror=alert(1)> "
        b"[link](javascript:alert(2)) <script>alert(3)</script>"
    )
    upload(app, [("page.html", page, "text/html"), ("notes.md", notes, "text/markdown")])
    ask(app, "chlorophyll")

    rows = "".join(result_rows(app))
    assert "makes leaves green." in rows
    assert "color: red" not in rows
    assert "hacked" not in rows
    assert "alert(&#x27;run&#x27;)" not in rows
    assert "&lt;img src=x onerror=alert(1)&gt;" in rows
    assert "&lt;b&gt;bold&lt;/b&gt;" in rows
    assert "**" in rows
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in rows
    for tag in ("<img", "<b>", "<i>", "<script", "<style", "<a "):
        assert tag not in rows, tag

    app.button(key="answer_bm25").click()
    app.run()
    assert not app.exception, app.exception
    answers = [e.proto.body for e in app.get("html") if e.proto.body.startswith('<div class="rl-answer">')]
    assert answers
    for tag in ("<img", "<b>", "<script"):
        assert tag not in answers[0], tag


# --- queries -------------------------------------------------------------------------


def test_empty_query_asks_for_one(app):
    ask(app, "   ")

    assert any(info.value == "Type a query to compare the methods." for info in app.info)
    assert result_rows(app) == []


def test_stopword_query_warns(app):
    ask(app, "the of and")

    assert any("BM25 found no passage that contains a query term" in w.value for w in app.warning)
    assert result_rows(app) == []


def test_long_query_runs_and_warns(app):
    query = ("scurvy vitamin deficiency " * 400)[:10_000]

    ask(app, query)

    assert len(result_rows(app)) == 3
    assert any(w.value.startswith("The query is ") and "Shorten the query" in w.value for w in app.warning)


@pytest.mark.parametrize(
    ("query", "expected"),
    [("طاقة الشمس", "arabic.txt"), ("כוח המשיכה", "hebrew.txt"), ("🍕 pizza", "emoji.txt")],
    ids=["arabic", "hebrew", "emoji"],
)
def test_rtl_and_emoji_queries(app, query, expected):
    upload(
        app,
        [
            ("arabic.txt", "التمثيل الضوئي يحول ضوء الشمس إلى طاقة كيميائية".encode(), "text/plain"),
            ("hebrew.txt", "הגאות והשפל נגרמים בגלל כוח המשיכה של הירח".encode(), "text/plain"),
            ("emoji.txt", "Pizza 🍕 night is on Friday 🎉".encode(), "text/plain"),
        ],
    )

    ask(app, query)

    rows = result_rows(app)
    assert len(rows) == 3
    for column in rows:
        assert expected in first_row(column)


# --- tiny corpora --------------------------------------------------------------------


def test_one_passage_corpus(app):
    upload(app, [GOOD])
    assert any("1 documents, 1 passages indexed." in caption.value for caption in app.caption)
    assert app.number_input(key="widget_candidates").value > 1

    ask(app, "chloroplasts light energy")

    rows = result_rows(app)
    assert column_headers(app) == ["BM25", "Bi-encoder", "Cross-encoder", "RRF (BM25 + bi-encoder)"]
    assert len(rows) == 3
    for column in rows:
        assert column.count('<div class="rl-row"') == 1


# --- a model folder deleted while the app runs ----------------------------------------


def cross_encoder_rows(at: AppTest) -> str | None:
    """Return the cross-encoder column's rows, or None when the column shows no rows."""
    headers = column_headers(at)
    rows = result_rows(at)
    if len(rows) != len(headers):
        return None
    return rows[headers.index("Cross-encoder")]


def test_model_folder_deleted_and_restored(tmp_path, monkeypatch, tiny_cross_encoder_path, caplog):
    folder = tmp_path / "cross-encoder"
    shutil.copytree(tiny_cross_encoder_path, folder)
    moved = tmp_path / "moved-away"
    monkeypatch.setenv("RERANKLAB_CROSS_ENCODER", str(folder))

    folder.rename(moved)
    first = AppTest.from_file(APP, default_timeout=180)
    first.run()
    assert not first.exception, first.exception
    messages = [error.value for error in first.error]
    assert len(messages) == 1
    assert f"Model folder '{folder}' not found" in messages[0]
    assert len(result_rows(first)) == 3
    assert cross_encoder_rows(first) is None

    moved.rename(folder)
    first.run()
    assert not first.exception, first.exception
    assert [error.value for error in first.error] == []
    assert cross_encoder_rows(first) is not None

    folder.rename(moved)
    first.run()
    assert not first.exception, first.exception
    assert cross_encoder_rows(first) is not None, "the loaded model keeps serving this session"

    second = AppTest.from_file(APP, default_timeout=180)
    second.run()
    assert not second.exception, second.exception
    assert any(f"Model folder '{folder}' not found" in error.value for error in second.error)
    assert len(result_rows(second)) == 3

    moved.rename(folder)
    with caplog.at_level(logging.INFO, logger="reranklab.models"):
        second.run()
    assert not second.exception, second.exception
    assert [error.value for error in second.error] == []
    assert cross_encoder_rows(second) is not None
    assert "loading CrossEncoder" not in caplog.text, "the restored folder is served from the process cache"


# --- services failing mid-demo -------------------------------------------------------


def test_slow_and_down_services_in_own_columns(monkeypatch):
    from tests.fakes.cohere import RERANK_PATH, install_cohere
    from tests.fakes.server import FakeServer, Reply
    from tests.test_robustness import closed_port_url

    key = "sk-test-APP-2468"
    with FakeServer() as server:
        install_cohere(server, api_key=key)
        # The reply comes after 4 s, past the 1 s timeout set below.
        server.enqueue(RERANK_PATH, Reply(200, {"results": []}, delay=4.0))
        monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
        monkeypatch.setenv("COHERE_API_KEY", key)
        monkeypatch.setenv("GEMINI_API_KEY", key)
        monkeypatch.setenv("COHERE_BASE_URL", server.url)
        monkeypatch.setenv("GEMINI_BASE_URL", closed_port_url())
        at = AppTest.from_file(APP, default_timeout=180)
        at.session_state["service_timeout"] = 1.0
        at.run()

    assert not at.exception, at.exception
    headers = column_headers(at)
    assert "Cohere Rerank" in headers
    assert "Gemini (listwise)" in headers
    errors = [error.value for error in at.error]
    assert any(message.startswith("Cohere sent no response within 1 s.") for message in errors)
    assert any(message.startswith("Gemini") and "connect" in message.lower() for message in errors)
    assert len(result_rows(at)) == 3, "BM25, bi-encoder and RRF still show their rows"
    for message in errors:
        assert key not in message


# --- judgments from two sessions ------------------------------------------------------


def test_two_sessions_judgments_both_kept(tmp_path, monkeypatch):
    import threading

    from reranklab.judgments import JUDGMENTS_FILE_NAME, JudgmentStore

    monkeypatch.setenv("RERANKLAB_DATA_DIR", str(tmp_path))
    sessions = [AppTest.from_file(APP, default_timeout=180) for _ in range(2)]
    for at in sessions:
        at.run()
        assert not at.exception, at.exception
    editor = sessions[0].data_editor[0]
    table = editor.value
    query = sessions[0].text_input(key="widget_query").value
    # Each session grades a different row of the same table, as two users would.
    for row, (at, grade) in enumerate(zip(sessions, (2, 3), strict=True)):
        at.session_state[editor.key] = {"edited_rows": {row: {"grade": grade}}, "added_rows": [], "deleted_rows": []}

    errors: list[BaseException] = []

    def rerun(at: AppTest) -> None:
        try:
            at.run()
        except BaseException as exc:  # reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=rerun, args=(at,)) for at in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    for at in sessions:
        assert not at.exception, at.exception
    corpus_id = editor.key.split("_")[1]
    grades = JudgmentStore(tmp_path / JUDGMENTS_FILE_NAME).grades(corpus_id, query)
    assert grades == {table.iloc[0]["passage_id"]: 2, table.iloc[1]["passage_id"]: 3}


def test_cloud_default_not_shared_between_sessions(monkeypatch):
    monkeypatch.setenv("COHERE_API_KEY", "sk-test-DEFAULTS-1122")
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    from components.state import DEFAULTS

    defaults_before = list(DEFAULTS["methods"])
    for _ in range(2):
        at = AppTest.from_file(APP, default_timeout=180)
        at.session_state["query"] = "   "
        at.run()
        assert not at.exception, at.exception
        assert at.session_state["methods"] == ["bm25", "bi-encoder", "cross-encoder", "cohere", "rrf"]
    assert DEFAULTS["methods"] == defaults_before
