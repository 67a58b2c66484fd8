"""Answers generated from ranked passages, and the citations that tie them to passages.

Passages are numbered from 1 in the order they are given. An answer cites them as [1]
or [1][3] (also [1, 3]); `parse_citations` maps those numbers back to passages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from reranklab.documents import Passage

_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
# Markup in passage text that could pass for the prompt's own structure: the tags around
# the passage block, and a "[n]" number at the start of a line.
_PASSAGES_TAG = re.compile(r"<\s*(/?)\s*passages\s*>", re.IGNORECASE)
_LINE_NUMBER = re.compile(r"^(\s*)\[(\d+)\]", re.MULTILINE)


@dataclass(frozen=True)
class Citation:
    """One passage that an answer cites.

    Attributes:
        number: the 1-based number the passage had in the prompt.
        doc_id: the cited passage's document.
        passage_id: the cited passage.
    """

    number: int
    doc_id: str
    passage_id: str


@dataclass
class Answer:
    """A generated or extracted answer.

    Attributes:
        text: the answer text with its [n] citation markers; may be partial.
        citations: the valid cited passages, in order of first citation.
        model: the model id, or "extractive" for the offline answer.
        finish_reason: the model's finish reason ("STOP", "MAX_TOKENS", "SAFETY", ...),
            "EMPTY" when the reply had no text, or None for an extractive answer.
        message: a note for the user when the answer is partial, empty or blocked.
        extractive: True when the answer was built from passage sentences, not generated.
    """

    text: str
    citations: list[Citation] = field(default_factory=list)
    model: str = ""
    finish_reason: str | None = None
    message: str | None = None
    extractive: bool = False

    def to_json(self) -> dict:
        """Return the CLI's JSON shape: answer, citations, model and finish_reason."""
        return {
            "answer": self.text,
            "citations": [
                {"number": c.number, "doc_id": c.doc_id, "passage_id": c.passage_id} for c in self.citations
            ],
            "model": self.model,
            "finish_reason": self.finish_reason,
        }


def number_passages(passages: Sequence[Passage]) -> str:
    """Return the passages as a numbered block: "[1] title\\ntext", separated by blank lines.

    Passage text goes through `quote_passage_text`, so a passage cannot close the
    <passages> block or start a passage number of its own.
    """
    blocks = []
    for number, passage in enumerate(passages, start=1):
        blocks.append(f"[{number}] {quote_passage_text(passage.full_text)}")
    return "\n\n".join(blocks)


def quote_passage_text(text: str) -> str:
    """Rewrite prompt delimiters inside passage text so that they read as plain text.

    "<passages>" and "</passages>" become "(passages)" and "(/passages)", and a "[n]"
    at the start of a line becomes "(n)". Everything else is kept as it is.
    """
    text = _PASSAGES_TAG.sub(r"(\1passages)", text)
    return _LINE_NUMBER.sub(r"\1(\2)", text)


def parse_citations(text: str, passages: Sequence[Passage]) -> list[Citation]:
    """Return the passages that `text` cites, once each, in order of first citation.

    Numbers outside 1..len(passages) are ignored.
    """
    citations: list[Citation] = []
    seen: set[int] = set()
    for match in _CITATION.finditer(text):
        for part in match.group(1).split(","):
            number = int(part)
            if number in seen or not 1 <= number <= len(passages):
                continue
            seen.add(number)
            passage = passages[number - 1]
            citations.append(Citation(number, passage.doc_id, passage.passage_id))
    return citations
