"""Tests of the SQLite judgment store."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading

import pytest

from reranklab.judgments import (
    DATA_DIR_ENV,
    JudgmentStore,
    JudgmentStoreError,
    default_data_dir,
    query_id,
)
from reranklab.trec import read_qrels

CORPUS = "notes"
QUERY = "how do rerankers work"
WRITES_PER_WRITER = 50


@pytest.fixture
def store(tmp_path) -> JudgmentStore:
    return JudgmentStore(tmp_path / "judgments.sqlite")


def _write_judgments(path: str, writer: str, barrier) -> None:
    """Write WRITES_PER_WRITER judgments of one query, after all writers are ready.

    Module level, so that spawned processes can import it.
    """
    store = JudgmentStore(path)
    barrier.wait()
    for index in range(WRITES_PER_WRITER):
        store.set_grade(CORPUS, QUERY, f"{writer}.txt#{index}", f"{writer}.txt", index % 4)


def test_set_grade_and_grades(store):
    store.set_grade(CORPUS, QUERY, "a.txt#0", "a.txt", 2)
    store.set_grade(CORPUS, QUERY, "a.txt#1", "a.txt", 0)

    assert store.grades(CORPUS, QUERY) == {"a.txt#0": 2, "a.txt#1": 0}


def test_set_grade_replaces(store):
    store.set_grade(CORPUS, QUERY, "a.txt#0", "a.txt", 1)
    store.set_grade(CORPUS, QUERY, "a.txt#0", "a.txt", 3)

    assert store.grades(CORPUS, QUERY) == {"a.txt#0": 3}


def test_grades_unknown_query_empty(store):
    assert store.grades(CORPUS, "never judged") == {}


def test_query_whitespace_normalized(store):
    store.set_grade(CORPUS, "  how do   rerankers work\n", "a.txt#0", "a.txt", 2)

    assert store.grades(CORPUS, QUERY) == {"a.txt#0": 2}
    assert store.queries(CORPUS) == {query_id(QUERY): QUERY}


def test_query_id_sha1():
    # sha1(b"a") is 86f7e437faa5a7fce15d1ddcb9eaeaea377667b8.
    assert query_id("a") == "q86f7e437faa5"


def test_query_id_whitespace_insensitive():
    assert query_id("  how do\trerankers   work ") == query_id(QUERY)


def test_corpora_kept_apart(store):
    store.set_grade("first", QUERY, "a.txt#0", "a.txt", 3)
    store.set_grade("second", QUERY, "a.txt#0", "a.txt", 1)

    assert store.grades("first", QUERY) == {"a.txt#0": 3}
    assert store.grades("second", QUERY) == {"a.txt#0": 1}
    assert store.queries("first") == {query_id(QUERY): QUERY}
    assert store.queries("second") == {query_id(QUERY): QUERY}


def test_judgments_survive_restart(tmp_path):
    path = tmp_path / "judgments.sqlite"
    JudgmentStore(path).set_grade(CORPUS, QUERY, "a.txt#0", "a.txt", 2)

    reopened = JudgmentStore(path)

    assert reopened.grades(CORPUS, QUERY) == {"a.txt#0": 2}
    assert reopened.queries(CORPUS) == {query_id(QUERY): QUERY}


def test_delete_judgment(store):
    store.set_grade(CORPUS, QUERY, "a.txt#0", "a.txt", 2)
    store.set_grade(CORPUS, QUERY, "a.txt#1", "a.txt", 1)

    store.set_grade(CORPUS, QUERY, "a.txt#0", "a.txt", None)

    assert store.grades(CORPUS, QUERY) == {"a.txt#1": 1}
    assert store.queries(CORPUS) == {query_id(QUERY): QUERY}


def test_delete_last_judgment_drops_query(store):
    store.set_grade(CORPUS, QUERY, "a.txt#0", "a.txt", 2)

    store.set_grade(CORPUS, QUERY, "a.txt#0", "a.txt", None)

    assert store.grades(CORPUS, QUERY) == {}
    assert store.queries(CORPUS) == {}
    assert store.qrels(CORPUS) == {}
    with sqlite3.connect(store.path) as connection:
        assert connection.execute("SELECT COUNT(*) FROM queries").fetchone() == (0,)


def test_delete_missing_judgment_is_noop(store):
    store.set_grade(CORPUS, QUERY, "a.txt#0", "a.txt", None)

    assert store.grades(CORPUS, QUERY) == {}


def test_qrels_passage_level(store):
    store.set_grade(CORPUS, QUERY, "a.txt#0", "a.txt", 1)
    store.set_grade(CORPUS, QUERY, "a.txt#1", "a.txt", 3)
    store.set_grade(CORPUS, "other query", "b.txt#0", "b.txt", 0)

    assert store.qrels(CORPUS) == {
        query_id(QUERY): {"a.txt#0": 1, "a.txt#1": 3},
        query_id("other query"): {"b.txt#0": 0},
    }


def test_qrels_document_level_max_grade(store):
    store.set_grade(CORPUS, QUERY, "a.txt#0", "a.txt", 1)
    store.set_grade(CORPUS, QUERY, "a.txt#1", "a.txt", 3)
    store.set_grade(CORPUS, QUERY, "a.txt#2", "a.txt", 0)
    store.set_grade(CORPUS, QUERY, "b.txt#4", "b.txt", 0)

    assert store.qrels(CORPUS, level="document") == {
        query_id(QUERY): {"a.txt": 3, "b.txt": 0}
    }


def test_qrels_invalid_level(store):
    with pytest.raises(ValueError, match="'paragraph'"):
        store.qrels(CORPUS, level="paragraph")


def test_queries_only_judged_corpus(store):
    store.set_grade(CORPUS, "zebra facts", "a.txt#0", "a.txt", 1)
    store.set_grade(CORPUS, "apple facts", "a.txt#0", "a.txt", 2)

    assert list(store.queries(CORPUS).values()) == ["apple facts", "zebra facts"]
    assert store.queries("empty corpus") == {}


def test_export_qrels_parsed_back(store):
    store.set_grade(CORPUS, QUERY, "my notes.txt#0", "my notes.txt", 2)
    store.set_grade(CORPUS, QUERY, "my notes.txt#1", "my notes.txt", 3)
    store.set_grade(CORPUS, "other query", "b.txt#0", "b.txt", 0)

    for level in ("passage", "document"):
        parsed, warnings = read_qrels(store.export_qrels(CORPUS, level), "export")
        assert parsed == store.qrels(CORPUS, level), level
        assert warnings == [], level


@pytest.mark.parametrize("grade", [-1, 4, 1.0, "2", True])
def test_invalid_grade_rejected(store, grade):
    with pytest.raises(ValueError) as caught:
        store.set_grade(CORPUS, QUERY, "a.txt#0", "a.txt", grade)

    assert repr(grade) in str(caught.value)
    assert store.grades(CORPUS, QUERY) == {}


@pytest.mark.parametrize("field", ["corpus", "query", "passage_id", "doc_id"])
def test_blank_name_rejected(store, field):
    values = {"corpus": CORPUS, "query": QUERY, "passage_id": "a.txt#0", "doc_id": "a.txt"}
    values[field] = "  "

    with pytest.raises(ValueError, match=field):
        store.set_grade(grade=1, **values)


def test_parent_folder_created(tmp_path):
    path = tmp_path / "deep" / "er" / "judgments.sqlite"

    JudgmentStore(path).set_grade(CORPUS, QUERY, "a.txt#0", "a.txt", 1)

    assert path.is_file()


def test_wal_journal_mode(store):
    with sqlite3.connect(store.path) as connection:
        mode = connection.execute("PRAGMA journal_mode").fetchone()[0]

    assert mode == "wal"


def test_default_path_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "data"))

    store = JudgmentStore()

    assert store.path == tmp_path / "data" / "judgments.sqlite"
    assert store.path.is_file()


@pytest.fixture
def without_platformdirs():
    """Skip when platformdirs is installed, because it then chooses the folder."""
    try:
        import platformdirs  # noqa: F401
    except ImportError:
        return
    pytest.skip("platformdirs is installed, so it chooses the data folder")


def test_default_data_dir_xdg(tmp_path, monkeypatch, without_platformdirs):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))

    assert default_data_dir() == tmp_path / "xdg" / "reranklab"


def test_default_data_dir_home(tmp_path, monkeypatch, without_platformdirs):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))

    assert default_data_dir() == tmp_path / ".local" / "share" / "reranklab"


def test_not_a_database_rejected(tmp_path):
    path = tmp_path / "judgments.sqlite"
    path.write_bytes(b"this is a text file, not an SQLite database\n" * 100)

    with pytest.raises(JudgmentStoreError, match=str(path)):
        JudgmentStore(path)


def test_folder_not_creatable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")

    with pytest.raises(JudgmentStoreError, match="could not create the folder"):
        JudgmentStore(blocker / "judgments.sqlite")


def test_concurrent_threads_and_processes(tmp_path):
    path = str(tmp_path / "judgments.sqlite")
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4, timeout=60)
    processes = [
        context.Process(target=_write_judgments, args=(path, f"process{i}", barrier))
        for i in range(2)
    ]
    errors: list[BaseException] = []

    def write_in_thread(writer: str) -> None:
        try:
            _write_judgments(path, writer, barrier)
        except BaseException as exc:  # reported by the assert below
            errors.append(exc)

    threads = [
        threading.Thread(target=write_in_thread, args=(f"thread{i}",)) for i in range(2)
    ]
    for process in processes:
        process.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for process in processes:
        process.join(timeout=120)

    assert errors == []
    assert [process.exitcode for process in processes] == [0, 0]
    grades = JudgmentStore(path).grades(CORPUS, QUERY)
    assert len(grades) == 4 * WRITES_PER_WRITER
    for writer in ("thread0", "thread1", "process0", "process1"):
        written = {key for key in grades if key.startswith(f"{writer}.txt#")}
        assert len(written) == WRITES_PER_WRITER, writer


def test_shared_store_two_sessions(tmp_path):
    # The app shares one JudgmentStore object between all sessions (st.cache_resource),
    # and Streamlit runs each session's script in its own thread.
    store = JudgmentStore(tmp_path / "judgments.sqlite")
    barrier = threading.Barrier(2, timeout=60)
    errors: list[BaseException] = []

    def write_as(session: str) -> None:
        try:
            barrier.wait()
            for index in range(WRITES_PER_WRITER):
                store.set_grade(CORPUS, QUERY, f"{session}.txt#{index}", f"{session}.txt", index % 4)
        except BaseException as exc:  # reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=write_as, args=(session,)) for session in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    grades = store.grades(CORPUS, QUERY)
    for session in ("first", "second"):
        written = {key for key in grades if key.startswith(f"{session}.txt#")}
        assert len(written) == WRITES_PER_WRITER, session
