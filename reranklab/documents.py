"""Documents, the passages they are split into, and ranked passages."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    """One document as read from a file.

    Attributes:
        doc_id: unique within a corpus. BEIR files give it as `_id`; other files derive it
            from the file name (and the row number for CSV).
        text: the body text, without the title.
        title: may be empty.
        source: the name of the file the document came from.
    """

    doc_id: str
    text: str
    title: str = ""
    source: str = ""


@dataclass(frozen=True)
class Passage:
    """A span of one document's text: the unit that BM25 and the rerankers score.

    Attributes:
        passage_id: `"{doc_id}#{index}"`, unique within a corpus.
        doc_id: the document the passage belongs to.
        text: the passage text, a slice of the document text.
        title: the document title, repeated on every passage.
        index: 0-based position of the passage within its document.
        start: character offset of `text` in the document text.
    """

    passage_id: str
    doc_id: str
    text: str
    title: str = ""
    index: int = 0
    start: int = 0

    @property
    def full_text(self) -> str:
        """Title and text joined by a newline, or the text alone when there is no title.

        This is the string that BM25 indexes and that the rerankers read.
        """
        return f"{self.title}\n{self.text}" if self.title else self.text


@dataclass(frozen=True)
class RankedPassage:
    """A passage at a position in one method's ranking.

    Attributes:
        passage: the passage.
        rank: 1-based rank, 1 being the best.
        score: the method's score, higher is better; None for methods that return an
            order without scores, such as a listwise LLM reranker.
    """

    passage: Passage
    rank: int
    score: float | None
