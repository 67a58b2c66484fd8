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

import codecs
import csv
import gzip
import io
import json
import logging
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePath

import docx
from bs4 import BeautifulSoup
from docx.table import Table
from docx.text.paragraph import Paragraph
from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError

from reranklab.documents import Document
from reranklab.errors import DocumentLoadError

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

# Maximum number of problem lines or rows listed one by one in the warnings of a file.
# Beyond it, one summary warning gives the count of the rest.
MAX_LISTED_PROBLEMS = 10

# Column names that guess_csv_columns looks for, in order of preference, compared
# case-insensitively.
CSV_TEXT_COLUMNS = ("text", "body", "content", "abstract", "passage")
CSV_TITLE_COLUMNS = ("title", "name", "heading")

# Byte order marks. UTF-32 comes before UTF-16 because the UTF-32 LE mark begins with
# the UTF-16 LE mark.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)

# C0 control bytes that do not occur in ordinary text. Tab, LF, FF and CR are excluded.
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13)) + b"\x7f"
# Share of control bytes, in the first _BINARY_SAMPLE_BYTES, above which a file without
# NUL bytes still counts as binary. Text files rarely contain any, so the threshold is a
# heuristic with a wide margin rather than a measured value.
_MAX_CONTROL_SHARE = 0.10
_BINARY_SAMPLE_BYTES = 65_536

# Python's csv module rejects fields longer than 131,072 characters by default, which a
# long document in one cell can exceed.
_CSV_FIELD_SIZE_LIMIT = 2**31 - 1

_PLACEHOLDER_TITLES = frozenset({"untitled", "untitled document"})

_HTML_HIDDEN_TAGS = ("script", "style", "noscript", "template", "title")

_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
_EXTRA_NEWLINES = re.compile(r"\n{3,}")
_MARKDOWN_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_MARKDOWN_FENCE = re.compile(r"^ {0,3}(```|~~~)")


@dataclass(frozen=True)
class CsvColumns:
    """The CSV columns that hold the document text and, optionally, the title.

    Attributes:
        text_column: header name of the text column.
        title_column: header name of the title column, or None for no titles.
    """

    text_column: str
    title_column: str | None = None


@dataclass
class LoadedFile:
    """The documents read from one file, with the problems that did not stop the read.

    Attributes:
        source: the file name, as given to `load_file`.
        documents: the documents, in file order. Never empty.
        warnings: non-fatal problems, one sentence each, such as
            "line 7: invalid JSON (Expecting value at column 1); skipped".
    """

    source: str
    documents: list[Document]
    warnings: list[str] = field(default_factory=list)


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


# ---------------------------------------------------------------------------
# Helpers shared by the readers


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
            f"is {_format_size(size)}, larger than the maximum of "
            f"{_format_size(max_bytes)}; split it into smaller files",
        )


def _format_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024**2:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024**2:.1f} MiB"


def _file_stem(name: str) -> str:
    return PurePath(name).stem


def _number_list(label: str, numbers: list[int]) -> str:
    """Format numbers as "row 3" or "rows 3, 5, 8", cut after MAX_LISTED_PROBLEMS."""
    if len(numbers) == 1:
        return f"{label} {numbers[0]}"
    listed = ", ".join(str(n) for n in numbers[:MAX_LISTED_PROBLEMS])
    rest = len(numbers) - MAX_LISTED_PROBLEMS
    if rest > 0:
        listed += f" and {rest} more"
    return f"{label}s {listed}"


def _normalize_whitespace(text: str) -> str:
    """Unify line endings, strip trailing spaces and collapse blank lines to one.

    Paragraph breaks (one blank line) and the spacing inside lines are kept.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = _TRAILING_SPACE.sub("", text)
    text = _EXTRA_NEWLINES.sub("\n\n", text)
    return text.strip()


def _normalize_title(title: str) -> str:
    return " ".join(title.split())


def _single_document(
    name: str, text: str, title: str, warnings: list[str] | None = None
) -> LoadedFile:
    """Wrap the text of a one-document file, raising if it contains no text."""
    text = _normalize_whitespace(text)
    if not text:
        raise DocumentLoadError(name, "contains no text")

    title = _normalize_title(title) or _file_stem(name)
    document = Document(doc_id=name, text=text, title=title, source=name)
    return LoadedFile(source=name, documents=[document], warnings=warnings or [])


def _byte_order_mark(data: bytes) -> tuple[bytes, str, str] | None:
    for mark, codec, label in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            return mark, codec, label
    return None


def _reject_binary(name: str, data: bytes) -> None:
    """Raise DocumentLoadError if `data` has no byte order mark and looks binary."""
    if _byte_order_mark(data) is not None:
        return
    if b"\x00" in data:
        raise DocumentLoadError(
            name,
            "contains NUL bytes, so it is a binary file and not text. If it is UTF-16 "
            "text without a byte order mark, save it as UTF-8 and upload it again.",
        )

    sample = data[:_BINARY_SAMPLE_BYTES]
    control_count = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if control_count > _MAX_CONTROL_SHARE * len(sample):
        raise DocumentLoadError(
            name,
            f"looks like a binary file and not text ({control_count} of its first "
            f"{len(sample)} bytes are control characters); upload a text file",
        )


def _decode_legacy(data: bytes) -> str:
    """Decode bytes that are not UTF-8 as Windows-1252, or as Latin-1 if that fails.

    Windows-1252 leaves five byte values undefined, and Latin-1 accepts every byte.
    """
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _decode_text(name: str, data: bytes) -> tuple[str, list[str]]:
    """Decode a text file and return the text with any warning about its encoding.

    A UTF-8, UTF-16 or UTF-32 byte order mark selects that encoding. Without one, the
    file must not look binary, and it is read as UTF-8, or as Windows-1252 with a
    warning if it is not valid UTF-8.

    Raises:
        DocumentLoadError: the file is binary, or is not valid in the encoding of its
            byte order mark.
    """
    bom = _byte_order_mark(data)
    if bom is not None:
        _, codec, label = bom
        try:
            return data.decode(codec), []
        except UnicodeDecodeError as exc:
            raise DocumentLoadError(
                name,
                f"starts with a {label} byte order mark but is not valid {label} "
                f"({exc.reason} at byte {exc.start}); save it as UTF-8 and upload it "
                "again",
            ) from exc

    _reject_binary(name, data)
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        first_invalid = exc.start

    warning = (
        f"not valid UTF-8 (first invalid byte at offset {first_invalid}), so it was "
        "decoded as Windows-1252 (Latin-1). If characters look wrong, save the file as "
        "UTF-8 and upload it again."
    )
    return _decode_legacy(data), [warning]


# ---------------------------------------------------------------------------
# Plain text, Markdown, PDF, Word and HTML: one document per file


def _load_text(name: str, data: bytes, *, markdown: bool) -> LoadedFile:
    text, warnings = _decode_text(name, data)
    text = _normalize_whitespace(text)
    title = ""
    if markdown:
        title, text = _split_markdown_title(text)
    return _single_document(name, text, title, warnings)


def _split_markdown_title(text: str) -> tuple[str, str]:
    """Find the first ATX heading (`# Title`) outside code blocks.

    Returns the heading text and the document text. The heading line is removed from
    the text only when it is the first line and other text follows, because
    `Passage.full_text` puts the title before the text.
    """
    lines = text.split("\n")
    in_fence = False
    for index, line in enumerate(lines):
        if _MARKDOWN_FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue

        match = _MARKDOWN_HEADING.match(line)
        if match is None:
            continue
        title = match.group(1).strip()
        body = "\n".join(lines[index + 1 :]).strip()
        if index == 0 and body:
            return title, body
        return title, text
    return "", text


def _load_pdf(name: str, data: bytes) -> LoadedFile:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise DocumentLoadError(
                name, "is encrypted; remove the password and upload again"
            )
        pages = list(reader.pages)
    except DocumentLoadError:
        raise
    except DependencyError as exc:
        raise DocumentLoadError(
            name,
            "is encrypted with AES, and pypdf needs the 'cryptography' package to "
            "read it even without a password. Install it, or remove the encryption "
            "and upload again.",
        ) from exc
    except Exception as exc:  # noqa: BLE001 - pypdf raises many types on damaged files
        raise DocumentLoadError(
            name,
            f"is not a readable PDF ({exc}); check that the file is complete, or "
            "export it again as PDF",
        ) from exc

    warnings = []
    failed_pages = []
    page_texts = []
    for page_number, page in enumerate(pages, start=1):
        try:
            page_text = page.extract_text()
        except Exception:  # noqa: BLE001 - one damaged page must not lose the others
            logger.debug(
                "%s: text extraction failed on page %d",
                name,
                page_number,
                exc_info=True,
            )
            failed_pages.append(page_number)
            continue
        page_text = _normalize_whitespace(page_text)
        if page_text:
            page_texts.append(page_text)

    if failed_pages:
        warnings.append(
            f"{_number_list('page', failed_pages)}: text extraction failed; skipped"
        )
    if not page_texts:
        raise DocumentLoadError(
            name,
            "has no extractable text; it may be a scanned image, run OCR first",
        )
    title = _metadata_title(_pdf_title(reader))
    return _single_document(name, "\n\n".join(page_texts), title, warnings)


def _pdf_title(reader: PdfReader) -> str:
    try:
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except Exception:  # noqa: BLE001 - damaged metadata only costs the title
        logger.debug("cannot read the PDF metadata", exc_info=True)
        return ""
    return title if isinstance(title, str) else ""


def _metadata_title(title: str) -> str:
    """Return a PDF or Word metadata title, or "" for a placeholder.

    ReportLab, among other tools, writes "untitled" when the author sets no title.
    """
    title = _normalize_title(title)
    return "" if title.lower() in _PLACEHOLDER_TITLES else title


def _load_docx(name: str, data: bytes) -> LoadedFile:
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - zipfile, lxml and python-docx all raise
        raise DocumentLoadError(
            name,
            f"is not a valid Word .docx file ({exc}). If it is an old .doc file, save "
            "it as .docx in Word and upload it again.",
        ) from exc

    blocks = [_docx_block_text(block) for block in document.iter_inner_content()]
    text = "\n".join(block for block in blocks if block)
    title = _metadata_title(document.core_properties.title or "")
    return _single_document(name, text, title)


def _docx_block_text(block: Paragraph | Table) -> str:
    if isinstance(block, Paragraph):
        return block.text

    rows = []
    for row in block.rows:
        # row.cells repeats a horizontally merged cell once per grid column it spans.
        seen_cells = set()
        cell_texts = []
        for cell in row.cells:
            if cell._tc in seen_cells:
                continue
            seen_cells.add(cell._tc)
            inner = [_docx_block_text(item) for item in cell.iter_inner_content()]
            cell_text = "\n".join(item for item in inner if item)
            if cell_text:
                cell_texts.append(cell_text)
        if cell_texts:
            rows.append(" | ".join(cell_texts))
    return "\n".join(rows)


def _load_html(name: str, data: bytes) -> LoadedFile:
    _reject_binary(name, data)
    # Given bytes, BeautifulSoup detects the encoding from a byte order mark or a
    # <meta charset>, or guesses it.
    soup = BeautifulSoup(data, "html.parser")
    title = soup.title.get_text(" ") if soup.title is not None else ""
    for tag in soup(_HTML_HIDDEN_TAGS):
        tag.decompose()

    # NOTE: the "\n" separator also splits inline elements, so "<b>bold</b>, text"
    # reads as "bold\n, text". Words stay intact.
    lines = [line.strip() for line in soup.get_text("\n").splitlines()]
    return _single_document(name, "\n".join(lines), title)


# ---------------------------------------------------------------------------
# CSV: one document per row


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


# ---------------------------------------------------------------------------
# JSONL in the BEIR corpus format: one document per line

_JSON_TYPE_NAMES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}
_JSONL_ID_KEYS = ("_id", "id", "doc_id")


def _json_type_name(value: object) -> str:
    return _JSON_TYPE_NAMES.get(type(value), "a value")


def _gunzip(name: str, data: bytes, max_bytes: int | None) -> bytes:
    """Decompress a gzip file, reading at most `max_bytes` + 1 bytes of output."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            content = stream.read() if max_bytes is None else stream.read(max_bytes + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise DocumentLoadError(
            name,
            f"is not a valid gzip file ({exc}). Check that the download is complete; "
            "if the file is plain JSONL, rename it to .jsonl.",
        ) from exc

    if max_bytes is not None and len(content) > max_bytes:
        raise DocumentLoadError(
            name,
            f"decompresses to more than the maximum of {_format_size(max_bytes)}; "
            "split the corpus into smaller files",
        )
    if not content:
        raise DocumentLoadError(name, "is empty after decompression")
    return content


def _split_jsonl_lines(name: str, data: bytes) -> tuple[list[str], list[int]]:
    """Split JSONL data into decoded lines.

    Returns the lines and the 1-based numbers of the lines that were not valid UTF-8
    and were decoded as Windows-1252. Decoding line by line keeps one bad line from
    changing how the others are decoded.
    """
    bom = _byte_order_mark(data)
    if bom is not None and bom[1] != "utf-8-sig":
        text, _ = _decode_text(name, data)
        return text.split("\n"), []
    if bom is not None:
        data = data[len(bom[0]) :]

    lines = []
    legacy_lines = []
    for line_number, raw_line in enumerate(data.split(b"\n"), start=1):
        try:
            lines.append(raw_line.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(_decode_legacy(raw_line))
            legacy_lines.append(line_number)
    return lines, legacy_lines


def _jsonl_document(name: str, record: object) -> Document | str:
    """Build a document from one parsed JSONL line, or return why it is invalid."""
    if not isinstance(record, dict):
        return f"expected a JSON object, found {_json_type_name(record)}"

    id_key = next((key for key in _JSONL_ID_KEYS if key in record), None)
    if id_key is None:
        return "missing '_id'"
    doc_id = record[id_key]
    if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)):
        found = _json_type_name(doc_id)
        return f"{id_key!r} must be a string or an integer, found {found}"
    doc_id = str(doc_id).strip()
    if not doc_id:
        return f"{id_key!r} is empty"

    if "text" not in record:
        return "missing 'text'"
    text = record["text"]
    if not isinstance(text, str):
        return f"'text' must be a string, found {_json_type_name(text)}"
    text = _normalize_whitespace(text)
    if not text:
        return "'text' is empty"

    title = record.get("title")
    if title is None:
        title = ""
    elif not isinstance(title, str):
        title = str(title)
    title = _normalize_title(title)
    return Document(doc_id=doc_id, text=text, title=title, source=name)


def _load_jsonl(name: str, data: bytes) -> LoadedFile:
    lines, legacy_lines = _split_jsonl_lines(name, data)
    warnings = []
    if legacy_lines:
        warnings.append(
            f"{_number_list('line', legacy_lines)}: not valid UTF-8, so decoded as "
            "Windows-1252 (Latin-1)"
        )

    documents = []
    problems = []
    first_line_by_id: dict[str, int] = {}
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(
                f"line {line_number}: invalid JSON ({exc.msg} at column {exc.colno}); "
                "skipped"
            )
            continue

        result = _jsonl_document(name, record)
        if isinstance(result, str):
            problems.append(f"line {line_number}: {result}; skipped")
            continue

        first_line = first_line_by_id.setdefault(result.doc_id, line_number)
        if first_line != line_number:
            problems.append(
                f"line {line_number}: duplicate _id {result.doc_id!r}, first seen on "
                f"line {first_line}; skipped"
            )
            continue
        documents.append(result)

    warnings.extend(problems[:MAX_LISTED_PROBLEMS])
    if len(problems) > MAX_LISTED_PROBLEMS:
        warnings.append(
            f"... and {len(problems) - MAX_LISTED_PROBLEMS} more lines skipped"
        )

    if not documents:
        if not problems:
            raise DocumentLoadError(name, "contains only blank lines")
        reason = f"has no valid line; {problems[0]}"
        if len(problems) > 1:
            reason += f" (and {len(problems) - 1} more invalid lines)"
        raise DocumentLoadError(name, reason)
    return LoadedFile(source=name, documents=documents, warnings=warnings)
