"""Find the query terms in a passage, for highlighting and snippets."""

from __future__ import annotations

import re
from collections.abc import Iterable

from reranklab.tokenization import Tokenizer

_WORD = re.compile(r"\w+")
# Han, Hiragana, Katakana and Hangul, the scripts the tokenizer splits into bigrams.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def match_spans(text: str, query_tokens: Iterable[str], tokenizer: Tokenizer) -> list[tuple[int, int]]:
    """Return sorted, non-overlapping (start, end) character spans of `text` that match the query.

    A word matches when the tokenizer turns it into a query token, so "running" matches a
    query about "run" when stemming is on. CJK text matches by the character bigrams the
    tokenizer produces.
    """
    tokens = set(query_tokens)
    if not tokens:
        return []
    spans: list[tuple[int, int]] = []
    for match in _WORD.finditer(text):
        word = match.group()
        if _CJK.search(word):
            continue
        if tokens.intersection(tokenizer.tokenize(word)):
            spans.append(match.span())

    for token in tokens:
        if _CJK.search(token):
            for found in re.finditer(re.escape(token), text):
                spans.append(found.span())
    return _merge(spans)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def snippet_window(text: str, spans: list[tuple[int, int]], max_chars: int = 240) -> tuple[int, int]:
    """Return the (start, end) of a window of at most `max_chars` around the first match.

    The window starts up to a quarter of `max_chars` before the first match, moved back to
    a word boundary; with no match it is the start of the text.
    """
    if len(text) <= max_chars:
        return 0, len(text)
    start = 0
    if spans:
        start = max(0, spans[0][0] - max_chars // 4)
        if start > 0:
            # Move back to the start of the word, or to the start of the text.
            start = text.rfind(" ", 0, start + 1) + 1
    end = min(len(text), start + max_chars)
    if end < len(text):
        boundary = text.rfind(" ", start, end)
        end = boundary if boundary > start else end
    return start, end
