"""Read uploaded files into documents.

`load_file` picks a reader by file extension:

- .txt, .md: one document per file.
- .pdf (pypdf), .docx (python-docx), .html/.htm (BeautifulSoup): one document per file.
- .csv: one document per row, from a chosen text column and an optional title column.
- .jsonl, .jsonl.gz: a BEIR corpus, one document per line (`_id`, `title`, `text`).

A file that yields no documents raises DocumentLoadError, with a message that names the
file and the fix. A problem with part of a file (a bad JSONL line, a ragged CSV
row, a PDF page whose text cannot be extracted) only adds a warning to
`LoadedFile.warnings`, and the rest of the file is kept.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from reranklab.errors import DocumentLoadError
from reranklab.loading.common import MAX_LISTED_PROBLEMS, LoadedFile, _format_size
from reranklab.loading.csv_files import (
    CSV_TEXT_COLUMNS,
    CSV_TITLE_COLUMNS,
    CsvColumns,
    _load_csv,
    guess_csv_columns,
    read_csv_columns,
)
from reranklab.loading.docx_files import _load_docx
from reranklab.loading.html import _load_html
from reranklab.loading.jsonl import _gunzip, _load_jsonl
from reranklab.loading.pdf import _load_pdf
from reranklab.loading.text import _load_text

__all__ = [
    "CSV_TEXT_COLUMNS",
    "CSV_TITLE_COLUMNS",
    "MAX_LISTED_PROBLEMS",
    "SUPPORTED_EXTENSIONS",
    "CsvColumns",
    "LoadedFile",
    "guess_csv_columns",
    "load_file",
    "load_path",
    "read_csv_columns",
]

logger = logging.getLogger(__name__)

SUPPORTED_EXTENSIONS: tuple[str, ...] = (
    ".txt",
    ".md",
    ".pdf",
    ".docx",
    ".html",
    ".htm",
    ".csv",
    ".jsonl",
    ".jsonl.gz",
)


def load_file(
    name: str,
    data: bytes,
    csv_columns: CsvColumns | None = None,
    max_bytes: int | None = None,
) -> LoadedFile:
    """Read the documents in one file.

    Args:
        name: the file name. Its extension, compared case-insensitively, selects the
            reader (see SUPPORTED_EXTENSIONS). Single-document formats use the name as
            doc_id.
        data: the file content.
        csv_columns: the text and title columns of a CSV file. If None, they are guessed
            with `guess_csv_columns` and a warning names the columns used. Ignored for
            other formats.
        max_bytes: maximum file size in bytes, or None for no limit. A .jsonl.gz file
            must also be at most this size after decompression.

    Returns:
        The documents and the warnings about the parts of the file that were skipped.

    Raises:
        DocumentLoadError: the file type is not supported, the file is too large, or the
            file contains no document that can be read.
    """
    extension = _file_extension(name)
    _check_size(name, len(data), max_bytes)
    if not data:
        raise DocumentLoadError(name, "is empty")

    if extension in (".txt", ".md"):
        loaded = _load_text(name, data, markdown=extension == ".md")
    elif extension == ".pdf":
        loaded = _load_pdf(name, data)
    elif extension == ".docx":
        loaded = _load_docx(name, data)
    elif extension in (".html", ".htm"):
        loaded = _load_html(name, data)
    elif extension == ".csv":
        loaded = _load_csv(name, data, csv_columns)
    elif extension == ".jsonl":
        loaded = _load_jsonl(name, data)
    else:
        loaded = _load_jsonl(name, _gunzip(name, data, max_bytes))

    logger.debug(
        "loaded %s: %d documents, %d warnings",
        name,
        len(loaded.documents),
        len(loaded.warnings),
    )
    return loaded


def load_path(
    path: str | os.PathLike[str],
    csv_columns: CsvColumns | None = None,
    max_bytes: int | None = None,
) -> LoadedFile:
    """Read the documents in a file on disk.

    The base name of `path` (such as "notes.txt") becomes the file name that
    `load_file` receives, so doc_ids and `Document.source` do not contain the folder.
    Arguments and errors are those of `load_file`, plus a DocumentLoadError naming the
    full path when the file cannot be opened.
    """
    path = Path(path)
    try:
        _check_size(path.name, path.stat().st_size, max_bytes)
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentLoadError(
            str(path), f"cannot be read ({exc.strerror or exc}); check the path"
        ) from exc
    return load_file(path.name, data, csv_columns=csv_columns, max_bytes=max_bytes)


def _file_extension(name: str) -> str:
    """Return the lower-case extension of `name`, or raise if it is not supported."""
    lower_name = name.lower()
    if lower_name.endswith(".jsonl.gz"):
        return ".jsonl.gz"

    extension = os.path.splitext(lower_name)[1]
    supported = ", ".join(SUPPORTED_EXTENSIONS)
    if not extension:
        raise DocumentLoadError(
            name, f"has no file extension; supported file types are {supported}"
        )
    if extension not in SUPPORTED_EXTENSIONS:
        raise DocumentLoadError(
            name,
            f"has the unsupported file type '{extension}'; "
            f"supported file types are {supported}",
        )
    return extension


def _check_size(name: str, size: int, max_bytes: int | None) -> None:
    if max_bytes is not None and size > max_bytes:
        raise DocumentLoadError(
            name,
            f"is {_format_size(size)}, larger than the maximum file size of "
            f"{_format_size(max_bytes)}; split it into smaller files or raise the maximum file size",
        )
