"""CSV: one document per row, from a text column and an optional title column."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from reranklab.documents import Document
from reranklab.errors import DocumentLoadError
from reranklab.loading.common import (
    LoadedFile,
    _normalize_title,
    _normalize_whitespace,
    _number_list,
)
from reranklab.loading.encoding import _decode_text

# Column names that guess_csv_columns looks for, in order of preference, compared
# case-insensitively.
CSV_TEXT_COLUMNS = ("text", "body", "content", "abstract", "passage")
CSV_TITLE_COLUMNS = ("title", "name", "heading")

# Python's csv module rejects fields longer than 131,072 characters by default, which a
# long document in one cell can exceed.
_CSV_FIELD_SIZE_LIMIT = 2**31 - 1


@dataclass(frozen=True)
class CsvColumns:
    """The CSV columns that hold the document text and, optionally, the title.

    Attributes:
        text_column: header name of the text column.
        title_column: header name of the title column, or None for no titles.
    """

    text_column: str
    title_column: str | None = None


def read_csv_columns(name: str, data: bytes) -> list[str]:
    """Read the column names from the header row of a CSV file.

    Names are stripped of surrounding spaces. Raises DocumentLoadError if the file is
    empty, binary, or has no header row.
    """
    if not data:
        raise DocumentLoadError(name, "is empty")
    text, _ = _decode_text(name, data)
    return _read_csv_header(name, csv.reader(io.StringIO(text, newline="")))


def guess_csv_columns(columns: list[str], *, source: str = "CSV file") -> CsvColumns:
    """Choose the text and title columns of a CSV file from its column names.

    The text column is the first of CSV_TEXT_COLUMNS that the file has, compared
    case-insensitively. Without one, it is the first column that is not the title
    column, or the only column. The title column is the first of CSV_TITLE_COLUMNS that
    the file has, or None.

    Args:
        columns: the header names, as `read_csv_columns` returns them.
        source: the file name, used in the error message.

    Raises:
        DocumentLoadError: `columns` is empty.
    """
    if not columns:
        raise DocumentLoadError(source, "has no columns; the first row must name them")

    by_lower_name = {}
    for column in columns:
        by_lower_name.setdefault(column.strip().lower(), column)

    title_column = next(
        (by_lower_name[n] for n in CSV_TITLE_COLUMNS if n in by_lower_name), None
    )
    text_column = next(
        (by_lower_name[n] for n in CSV_TEXT_COLUMNS if n in by_lower_name), None
    )
    if text_column is None:
        text_column = next((c for c in columns if c != title_column), columns[0])
    if title_column == text_column:
        title_column = None
    return CsvColumns(text_column=text_column, title_column=title_column)


def _read_csv_header(name: str, reader: Iterator[list[str]]) -> list[str]:
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise DocumentLoadError(name, f"has an invalid header row ({exc})") from exc
    if header is None or not any(column.strip() for column in header):
        raise DocumentLoadError(
            name, "has no header row; the first row must name the columns"
        )
    return [column.strip() for column in header]


def _csv_column_index(name: str, columns: list[str], column: str) -> int:
    if column in columns:
        return columns.index(column)

    listed = ", ".join(repr(c) for c in columns)
    reason = f"has no column {column!r}; its columns are {listed}. Choose one of them."
    if len(columns) == 1:
        separator = next((s for s in (";", "\t", "|") if s in columns[0]), None)
        if separator is not None:
            reason += (
                f" The header contains {separator!r}, but only comma-separated files "
                "are supported, so save the file with commas."
            )
    raise DocumentLoadError(name, reason)


def _load_csv(name: str, data: bytes, csv_columns: CsvColumns | None) -> LoadedFile:
    text, warnings = _decode_text(name, data)
    if csv.field_size_limit() < _CSV_FIELD_SIZE_LIMIT:
        csv.field_size_limit(_CSV_FIELD_SIZE_LIMIT)
    reader = csv.reader(io.StringIO(text, newline=""))
    columns = _read_csv_header(name, reader)

    if csv_columns is None:
        csv_columns = guess_csv_columns(columns, source=name)
        guess = (
            "no columns were chosen, so the text was read from column "
            f"{csv_columns.text_column!r}"
        )
        if csv_columns.title_column is not None:
            guess += f" and the titles from column {csv_columns.title_column!r}"
        else:
            guess += " with no title column"
        warnings.append(guess)

    text_index = _csv_column_index(name, columns, csv_columns.text_column)
    title_index = None
    if csv_columns.title_column is not None:
        title_index = _csv_column_index(name, columns, csv_columns.title_column)

    documents = []
    ragged_rows = []
    empty_rows = []
    invalid_rows = []
    row_number = 0  # 1-based number of the record after the header
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            # NOTE: the default dialect raises csv.Error rarely, if ever, since the field
            # size limit is raised above. No test reaches this branch.
            row_number += 1
            invalid_rows.append(row_number)
            continue

        row_number += 1
        if not row:  # a blank line
            continue
        if len(row) != len(columns):
            ragged_rows.append(row_number)

        row_text = row[text_index] if text_index < len(row) else ""
        row_text = _normalize_whitespace(row_text)
        if not row_text:
            empty_rows.append(row_number)
            continue

        title = ""
        if title_index is not None and title_index < len(row):
            title = _normalize_title(row[title_index])
        documents.append(
            Document(
                doc_id=f"{name}:{row_number}", text=row_text, title=title, source=name
            )
        )

    if invalid_rows:
        warnings.append(f"{_number_list('row', invalid_rows)}: invalid CSV; skipped")
    if ragged_rows:
        warnings.append(
            f"{_number_list('row', ragged_rows)}: field count differs from the "
            f"{len(columns)} columns of the header; the fields were read by position"
        )
    if empty_rows:
        warnings.append(
            f"{_number_list('row', empty_rows)}: column "
            f"{csv_columns.text_column!r} is empty; skipped"
        )
    if not documents:
        raise DocumentLoadError(
            name, f"has no rows with text in column {csv_columns.text_column!r}"
        )
    return LoadedFile(source=name, documents=documents, warnings=warnings)
