"""Plain text and Markdown: one document per file."""

from __future__ import annotations

import re

from reranklab.loading.common import LoadedFile, _normalize_whitespace, _single_document
from reranklab.loading.encoding import _decode_text

_MARKDOWN_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_MARKDOWN_FENCE = re.compile(r"^ {0,3}(```|~~~)")


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
