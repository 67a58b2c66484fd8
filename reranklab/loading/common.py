"""Helpers shared by the readers.

This module contains the result type `LoadedFile`, whitespace and title clean-up, size
formatting and the numbered lists of skipped lines, rows or pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePath

from reranklab.documents import Document
from reranklab.errors import DocumentLoadError

# Maximum number of problem lines or rows listed one by one in the warnings of a file.
# Beyond it, one summary warning gives the count of the rest.
MAX_LISTED_PROBLEMS = 10

_PLACEHOLDER_TITLES = frozenset({"untitled", "untitled document"})

_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
_EXTRA_NEWLINES = re.compile(r"\n{3,}")


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


def _metadata_title(title: str) -> str:
    """Return a PDF or Word metadata title, or "" for a placeholder.

    ReportLab, among other tools, writes "untitled" when the author sets no title.
    """
    title = _normalize_title(title)
    return "" if title.lower() in _PLACEHOLDER_TITLES else title
