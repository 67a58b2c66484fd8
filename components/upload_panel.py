"""Upload panel: file picker, CSV column choice, and a status row per file."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from reranklab.corpus import FileReport
from reranklab.errors import DocumentLoadError
from reranklab.loading import CsvColumns, guess_csv_columns, read_csv_columns

UPLOAD_TYPES = ["txt", "md", "pdf", "docx", "html", "htm", "csv", "jsonl", "gz"]


def render_upload() -> tuple[list[tuple[str, bytes]], dict[str, CsvColumns]]:
    """Draw the uploader and return the uploaded (name, bytes) pairs and the CSV column choices."""
    uploaded = st.file_uploader(
        "Upload documents",
        type=UPLOAD_TYPES,
        accept_multiple_files=True,
        key="uploads",
        help="Text, Markdown, PDF, Word, HTML, CSV, or BEIR corpus JSONL (optionally .jsonl.gz).",
    )
    files = [(file.name, file.getvalue()) for file in uploaded or []]

    csv_columns: dict[str, CsvColumns] = {}
    for name, data in files:
        if not name.lower().endswith(".csv"):
            continue
        try:
            columns = read_csv_columns(name, data)
            guess = guess_csv_columns(columns, source=name)
        except DocumentLoadError as exc:
            st.error(str(exc))
            continue
        left, right = st.columns(2)
        text_column = left.selectbox(
            f"Text column of {name}", columns, index=columns.index(guess.text_column), key=f"csv_text_{name}"
        )
        title_options = ["(none)", *columns]
        title_default = title_options.index(guess.title_column) if guess.title_column in columns else 0
        title_column = right.selectbox(
            f"Title column of {name}", title_options, index=title_default, key=f"csv_title_{name}"
        )
        csv_columns[name] = CsvColumns(text_column, None if title_column == "(none)" else title_column)
    return files, csv_columns


def upload_key(files: list[tuple[str, bytes]], csv_columns: dict[str, CsvColumns], settings: tuple) -> str:
    """Return a hash of the uploaded files, column choices and settings that shape the corpus."""
    digest = hashlib.sha256()
    for name, data in files:
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(data).digest())
    digest.update(repr(sorted(csv_columns.items())).encode("utf-8"))
    digest.update(repr(settings).encode("utf-8"))
    return digest.hexdigest()


def render_file_reports(reports: list[FileReport]) -> None:
    """Show one status row per file, and an error line for each file that could not be read."""
    if not reports:
        return
    for report in reports:
        if report.error:
            st.error(f"**{report.source}** was not indexed. Reason: {report.error}")
    table = pd.DataFrame(
        [
            {
                "file": report.source,
                "status": "error" if report.error else ("warnings" if report.warnings else "ok"),
                "documents": report.documents,
                "duplicates": report.duplicates,
                "passages": report.passages,
                "characters": report.characters,
                "warnings": "; ".join(report.warnings),
            }
            for report in reports
        ]
    )
    st.dataframe(table, hide_index=True, width="stretch")
