"""Relevance judgments made in the app, stored in an SQLite file.

A judgment is a grade from 0 (not relevant) to 3 (highly relevant) that a user gives a
passage for a query on one corpus. The store turns them into qrels at passage level or
at document level, where a document gets the maximum grade of its judged passages.

Schema (version 1, kept in `PRAGMA user_version`):

    queries(corpus, query_id, text, PRIMARY KEY (corpus, query_id))
    judgments(corpus, query_id, passage_id, doc_id, grade, updated_at,
              PRIMARY KEY (corpus, query_id, passage_id))

`corpus` is whatever name the caller uses for a corpus. `updated_at` is an ISO 8601 UTC
timestamp. Queries are keyed by corpus too, because the same query text can be judged
on several corpora.
"""

from __future__ import annotations

import hashlib
import logging
import numbers
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from reranklab.errors import RerankLabError
from reranklab.trec import Qrels, write_qrels

logger = logging.getLogger(__name__)

DATA_DIR_ENV = "RERANKLAB_DATA_DIR"
JUDGMENTS_FILE_NAME = "judgments.sqlite"
MAX_GRADE = 3
# Seconds a write waits for another connection's write lock before it fails.
BUSY_TIMEOUT_SECONDS = 5.0
_SCHEMA_VERSION = 1
_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS queries (
        corpus TEXT NOT NULL,
        query_id TEXT NOT NULL,
        text TEXT NOT NULL,
        PRIMARY KEY (corpus, query_id)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS judgments (
        corpus TEXT NOT NULL,
        query_id TEXT NOT NULL,
        passage_id TEXT NOT NULL,
        doc_id TEXT NOT NULL,
        grade INTEGER NOT NULL CHECK (grade BETWEEN 0 AND 3),
        updated_at TEXT NOT NULL,
        PRIMARY KEY (corpus, query_id, passage_id)
    )
    """,
)


class JudgmentStoreError(RerankLabError):
    """Raised when the judgment database cannot be opened, read or written."""


def default_data_dir() -> Path:
    """Return the folder for RerankLab's data files.

    The folder is `$RERANKLAB_DATA_DIR` if set, else `platformdirs.user_data_dir`
    when platformdirs is installed, else `$XDG_DATA_HOME/reranklab`, else
    `~/.local/share/reranklab`.
    """
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    try:
        import platformdirs
    except ImportError:
        # NOTE: without platformdirs, macOS and Windows also get the XDG folder.
        xdg = os.environ.get("XDG_DATA_HOME")
        base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
        return base / "reranklab"
    return Path(platformdirs.user_data_dir("reranklab", appauthor=False))


def normalize_query(text: str) -> str:
    """Strip a query and collapse its runs of whitespace to single spaces."""
    return " ".join(text.split())


def query_id(text: str) -> str:
    """Return the stable id of a query text: "q" + the first 12 hex digits of its SHA-1.

    The text is normalized first, so "a  b " and "a b" share an id.
    """
    digest = hashlib.sha1(normalize_query(text).encode("utf-8")).hexdigest()
    return "q" + digest[:12]


def _validate_grade(grade: object) -> None:
    if grade is None:
        return
    if isinstance(grade, bool) or not isinstance(grade, numbers.Integral):
        raise ValueError(
            f"grade must be an integer from 0 to {MAX_GRADE}, or None to delete the "
            f"judgment; got {grade!r}"
        )
    if not 0 <= grade <= MAX_GRADE:
        raise ValueError(
            f"grade must be from 0 to {MAX_GRADE}, or None to delete the judgment; "
            f"got {grade!r}"
        )


def _validate_name(label: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{label} must be a non-blank string, got {value!r}")
    return value


class JudgmentStore:
    """Stores graded judgments of passages in an SQLite file that survives restarts.

    Each call opens its own connection and closes it before returning. sqlite3
    connections must not be shared between threads by default, and Streamlit runs each
    browser session in its own thread, so one store object can serve all sessions this
    way. Each write is one transaction that takes the write lock when it begins
    (BEGIN IMMEDIATE). The database uses WAL journal mode, so reads do not block
    writes. A write waits up to BUSY_TIMEOUT_SECONDS for another thread or process
    to finish its write.

    Args:
        path: the SQLite file; its folder is created if needed. Defaults to
            `default_data_dir() / "judgments.sqlite"`.

    Raises:
        JudgmentStoreError: the folder cannot be created, or the file is not an SQLite
            database or cannot be opened.
    """

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        if path is None:
            path = default_data_dir() / JUDGMENTS_FILE_NAME
        self.path = Path(path).expanduser()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JudgmentStoreError(
                f"{self.path.parent}: could not create the folder for the judgment "
                f"database ({exc.strerror}); choose another path or set {DATA_DIR_ENV}"
            ) from exc
        self._create_schema()

    def __repr__(self) -> str:
        return f"JudgmentStore({str(self.path)!r})"

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """Open a connection for one call, and turn SQLite errors into JudgmentStoreError.

        With isolation_level="IMMEDIATE", sqlite3 begins each write with BEGIN
        IMMEDIATE. A deferred transaction that reads and then writes can fail at once
        with SQLITE_BUSY when another connection wrote in between, without waiting for
        the busy timeout.
        """
        try:
            connection = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level="IMMEDIATE"
            )
        except sqlite3.Error as exc:
            raise self._error("could not open", exc) from exc
        with closing(connection):
            try:
                yield connection
            except sqlite3.Error as exc:
                raise self._error("failed on", exc) from exc

    def _error(self, action: str, exc: sqlite3.Error) -> JudgmentStoreError:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            advice = (
                f"another connection held the write lock for more than "
                f"{BUSY_TIMEOUT_SECONDS:g} s; try again"
            )
        else:
            advice = (
                "check that the file is a RerankLab judgment database and is writable, "
                f"or choose another path with {DATA_DIR_ENV}"
            )
        return JudgmentStoreError(
            f"{self.path}: {action} the judgment database ({exc}); {advice}"
        )

    def _create_schema(self) -> None:
        with self._connect() as connection:
            mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                # Some file systems, such as network shares, do not support WAL.
                logger.warning(
                    "judgment database %s uses journal mode %s, not WAL; concurrent "
                    "writes wait for each other",
                    self.path,
                    mode,
                )
            with connection:
                for statement in _SCHEMA:
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    def set_grade(
        self, corpus: str, query: str, passage_id: str, doc_id: str, grade: int | None
    ) -> None:
        """Store the grade of a passage for a query, or delete it when grade is None.

        A new grade replaces the previous one. Deleting the last judgment of a query
        also deletes the query.

        Args:
            corpus: the name of the corpus the passage belongs to.
            query: the query text; see `query_id` for how it is keyed.
            passage_id: the judged passage.
            doc_id: the document of the passage, used for document-level qrels.
            grade: 0 (not relevant) to 3 (highly relevant), or None to delete.

        Raises:
            ValueError: the grade is not None or an integer from 0 to 3, or an id or
                the query is blank. The message names the value.
            JudgmentStoreError: the write failed.
        """
        _validate_grade(grade)
        _validate_name("corpus", corpus)
        _validate_name("query", query)
        _validate_name("passage_id", passage_id)
        _validate_name("doc_id", doc_id)
        text = normalize_query(query)
        key = query_id(text)

        with self._connect() as connection, connection:
            if grade is None:
                connection.execute(
                    "DELETE FROM judgments WHERE corpus = ? AND query_id = ? "
                    "AND passage_id = ?",
                    (corpus, key, passage_id),
                )
                connection.execute(
                    "DELETE FROM queries WHERE corpus = ? AND query_id = ? AND NOT EXISTS "
                    "(SELECT 1 FROM judgments WHERE corpus = ? AND query_id = ?)",
                    (corpus, key, corpus, key),
                )
                return

            updated_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
            connection.execute(
                "INSERT INTO queries (corpus, query_id, text) VALUES (?, ?, ?) "
                "ON CONFLICT (corpus, query_id) DO UPDATE SET text = excluded.text",
                (corpus, key, text),
            )
            connection.execute(
                "INSERT INTO judgments "
                "(corpus, query_id, passage_id, doc_id, grade, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (corpus, query_id, passage_id) DO UPDATE SET "
                "doc_id = excluded.doc_id, grade = excluded.grade, "
                "updated_at = excluded.updated_at",
                (corpus, key, passage_id, doc_id, int(grade), updated_at),
            )

    def grades(self, corpus: str, query: str) -> dict[str, int]:
        """Return passage_id -> grade for one query on a corpus, sorted by passage_id."""
        key = query_id(query)
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT passage_id, grade FROM judgments WHERE corpus = ? AND query_id = ? "
                "ORDER BY passage_id",
                (corpus, key),
            ).fetchall()
        return dict(rows)

    def qrels(
        self, corpus: str, level: Literal["passage", "document"] = "passage"
    ) -> Qrels:
        """Return the judgments of a corpus as qrels, keyed by query_id.

        Args:
            corpus: the corpus name.
            level: "passage" keys grades by passage_id. "document" keys them by doc_id,
                with the maximum grade over the document's judged passages.

        Raises:
            ValueError: `level` is neither "passage" nor "document".
        """
        if level == "passage":
            sql = (
                "SELECT query_id, passage_id, grade FROM judgments WHERE corpus = ? "
                "ORDER BY query_id, passage_id"
            )
        elif level == "document":
            sql = (
                "SELECT query_id, doc_id, MAX(grade) FROM judgments WHERE corpus = ? "
                "GROUP BY query_id, doc_id ORDER BY query_id, doc_id"
            )
        else:
            raise ValueError(f'level must be "passage" or "document", got {level!r}')

        with self._connect() as connection:
            rows = connection.execute(sql, (corpus,)).fetchall()
        qrels: Qrels = {}
        for key, judged_id, grade in rows:
            qrels.setdefault(key, {})[judged_id] = grade
        return qrels

    def queries(self, corpus: str) -> dict[str, str]:
        """Return query_id -> text for the queries judged on a corpus, sorted by text."""
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT query_id, text FROM queries WHERE corpus = ? AND EXISTS "
                "(SELECT 1 FROM judgments WHERE judgments.corpus = queries.corpus "
                "AND judgments.query_id = queries.query_id) ORDER BY text",
                (corpus,),
            ).fetchall()
        return dict(rows)

    def export_qrels(
        self, corpus: str, level: Literal["passage", "document"] = "passage"
    ) -> str:
        """Return the judgments of a corpus as TREC qrels text.

        See `qrels` for `level` and `write_qrels` for the format.
        """
        return write_qrels(self.qrels(corpus, level))
