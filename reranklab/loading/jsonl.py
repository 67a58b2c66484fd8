"""JSONL in the BEIR corpus format: one document per line.

Each line is an object with an id (`_id`, `id` or `doc_id`), `text` and an optional
`title`. A .jsonl.gz file is decompressed first.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib

from reranklab.documents import Document
from reranklab.errors import DocumentLoadError
from reranklab.loading.common import (
    MAX_LISTED_PROBLEMS,
    LoadedFile,
    _format_size,
    _normalize_title,
    _normalize_whitespace,
    _number_list,
)
from reranklab.loading.encoding import _byte_order_mark, _decode_legacy, _decode_text

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
