"""Offline extractive answers: the query's best sentences from the top passages, with citations.

Used when no Gemini key is set, so the whole answer flow works without network. The
answer is labelled as extractive: it copies sentences and generates nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from reranklab.answers import Answer, parse_citations
from reranklab.documents import Passage
from reranklab.tokenization import Tokenizer

EXTRACTIVE_MODEL = "extractive"

# A sentence ends at . ! ? or the CJK full stop, followed by space or the end of the text.
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])")
# The end of a whole sentence, allowing a closing quote or bracket after the mark.
_ENDS_SENTENCE = re.compile(r"[.!?。！？][\"'”’)\]]*$")


def split_sentences(text: str) -> list[str]:
    """Split text into sentences at . ! ? and their CJK forms; blank pieces are dropped."""
    return [sentence.strip() for sentence in _SENTENCE_END.split(text) if sentence.strip()]


def extractive_answer(
    query: str,
    passages: Sequence[Passage],
    tokenizer: Tokenizer | None = None,
    max_sentences: int = 3,
) -> Answer:
    """Build an answer from the sentences of `passages` that share the most query terms.

    Each sentence is scored by the idf-weighted share of distinct query tokens it
    contains, where the idf is computed over the sentences of these passages. Ties
    go to the higher-ranked passage, then to the earlier sentence. The chosen sentences
    are listed in score order, each followed by its passage number, such as [2].

    Args:
        query: the query text.
        passages: the top passages, best first; they are numbered from 1.
        tokenizer: the tokenizer to match terms with. Defaults to `Tokenizer()`.
        max_sentences: maximum number of sentences in the answer. Defaults to 3.

    Returns:
        An `Answer` with `extractive=True`, `model="extractive"` and no finish reason.
        When no sentence contains a query term, the text says so and cites nothing.
    """
    tokenizer = tokenizer or Tokenizer()
    query_tokens = set(tokenizer.tokenize(query))
    sentences: list[tuple[int, int, str, set[str]]] = []
    seen: set[str] = set()
    for number, passage in enumerate(passages, start=1):
        for position, sentence in enumerate(_whole_sentences(passage)):
            # Overlapping passages of one document repeat sentences; the first copy is kept.
            normalized = " ".join(sentence.split()).casefold()
            if normalized in seen:
                continue
            seen.add(normalized)
            sentences.append((number, position, sentence, set(tokenizer.tokenize(sentence))))

    if not query_tokens or not sentences:
        return _no_answer()

    document_frequency = {
        token: sum(1 for *_, tokens in sentences if token in tokens) for token in query_tokens
    }
    idf = {token: math.log(1 + len(sentences) / (1 + count)) for token, count in document_frequency.items()}
    total = sum(idf.values())

    scored = []
    for number, position, sentence, tokens in sentences:
        score = sum(idf[token] for token in query_tokens & tokens) / total
        if score > 0:
            scored.append((-score, number, position, sentence))
    if not scored:
        return _no_answer()

    chosen = sorted(scored)[:max_sentences]
    text = " ".join(f"{sentence} [{number}]" for _, number, _, sentence in chosen)
    return Answer(
        text=text,
        citations=parse_citations(text, passages),
        model=EXTRACTIVE_MODEL,
        finish_reason=None,
        message="Extractive answer: sentences copied from the passages, because no Gemini key is set.",
        extractive=True,
    )


def _whole_sentences(passage: Passage) -> list[str]:
    """Return the passage's sentences without the pieces that a passage boundary cut.

    Passages are word windows, so a passage after the first of its document usually
    starts inside a sentence, and a passage may end inside one. Those pieces are dropped
    unless they are the passage's only text.
    """
    pieces = split_sentences(passage.text)
    if len(pieces) > 1 and passage.index > 0:
        pieces = pieces[1:]
    if len(pieces) > 1 and not _ENDS_SENTENCE.search(pieces[-1]):
        pieces = pieces[:-1]
    return pieces


def _no_answer() -> Answer:
    return Answer(
        text="None of these passages contains a query term, so no sentence could be extracted.",
        model=EXTRACTIVE_MODEL,
        message="Extractive answer: no Gemini key is set.",
        extractive=True,
    )
