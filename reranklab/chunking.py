"""Split documents into overlapping passages of a fixed number of words.

A word is a run of characters other than whitespace, except that each CJK character
counts as one word by itself. Chinese and Japanese are written without spaces, so
without this rule a whole paragraph would be one word and one passage.

CJK characters here are Han ideographs (CJK Unified Ideographs with all extensions,
and the Compatibility Ideographs), Hiragana, Katakana (with the Phonetic Extensions and
the half-width forms) and Hangul syllables. CJK punctuation (U+3001 to U+303F) and the
full-width forms of ASCII (U+FF01 to U+FF65) are not CJK characters: a run of them is
one word and also ends the word before it, so "です。Hello" is four words. Korean is
written with spaces, but each Hangul syllable still counts as a word, so a Korean
passage contains fewer words in the everyday sense than an English one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from reranklab.documents import Document, Passage

_CJK_CHARACTERS = (
    "\u3040-\u309f"  # Hiragana
    "\u30a0-\u30ff"  # Katakana
    "\u31f0-\u31ff"  # Katakana Phonetic Extensions
    "\u3400-\u4dbf"  # CJK Unified Ideographs Extension A
    "\u4e00-\u9fff"  # CJK Unified Ideographs
    "\uac00-\ud7af"  # Hangul Syllables
    "\uf900-\ufaff"  # CJK Compatibility Ideographs
    "\uff66-\uff9f"  # Half-width Katakana
    "\U00020000-\U000323af"  # Extensions B to I, Compatibility Ideographs Supplement
)
_CJK_PUNCTUATION = "\u3001-\u303f\uff01-\uff65"
_WORD = re.compile(
    f"[{_CJK_CHARACTERS}]"
    f"|[{_CJK_PUNCTUATION}]+"
    f"|[^\\s{_CJK_CHARACTERS}{_CJK_PUNCTUATION}]+"
)


@dataclass(frozen=True)
class ChunkingSettings:
    """Size and overlap of the passages that documents are split into.

    Attributes:
        passage_words: number of words in a passage. The last passage of a document
            may be shorter. Must be at least 1.
        overlap_words: number of words that consecutive passages share, from 0 to
            passage_words - 1. Each passage starts passage_words - overlap_words words
            after the previous one.

    Raises:
        TypeError: a value is not an int.
        ValueError: a value is out of range. The message names the value and the
            valid range.
    """

    # 100 words keep passages of dense scientific English under the 256-token limit of
    # all-MiniLM-L6-v2: 5 of the sample corpus's 907 passages go over, against 230 of
    # 581 at 160 words (scripts/make_sample_corpus.py data, MiniLM tokenizer).
    passage_words: int = 100
    overlap_words: int = 25

    def __post_init__(self) -> None:
        for name in ("passage_words", "overlap_words"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(
                    f"{name} must be an int, got {value!r} ({type(value).__name__})"
                )

        if self.passage_words < 1:
            raise ValueError(
                f"passage_words must be at least 1, got {self.passage_words}"
            )
        if not 0 <= self.overlap_words < self.passage_words:
            raise ValueError(
                f"overlap_words must be from 0 to {self.passage_words - 1} "
                f"(passage_words - 1), got {self.overlap_words}"
            )

    @property
    def stride_words(self) -> int:
        """Number of words between the starts of consecutive passages."""
        return self.passage_words - self.overlap_words


def count_words(text: str) -> int:
    """Count the words in `text`, by the definition in the module docstring."""
    return sum(1 for _ in _WORD.finditer(text))


def split_document(
    document: Document, settings: ChunkingSettings = ChunkingSettings()
) -> list[Passage]:
    """Split one document into passages of `settings.passage_words` words.

    Passage i starts at word i * stride_words. Its text is the slice of
    `document.text` from the start of its first word to the end of its last word, so
    the original spacing and line breaks are kept, and `Passage.start` is the character
    offset of that slice. The last passage ends at the last word of the document. A
    passage that would only repeat words of the previous one is not emitted, so a
    document of at most passage_words words gives one passage.

    Returns:
        The passages in document order, with passage_id "{doc_id}#{index}" and the
        title of the document. Empty if the text contains no word.
    """
    spans = [match.span() for match in _WORD.finditer(document.text)]
    word_count = len(spans)
    passages = []
    first_word = 0
    while first_word < word_count:
        end_word = min(first_word + settings.passage_words, word_count)
        start = spans[first_word][0]
        end = spans[end_word - 1][1]
        index = len(passages)
        passages.append(
            Passage(
                passage_id=f"{document.doc_id}#{index}",
                doc_id=document.doc_id,
                text=document.text[start:end],
                title=document.title,
                index=index,
                start=start,
            )
        )
        if end_word == word_count:
            break
        first_word += settings.stride_words
    return passages


def split_documents(
    documents: Iterable[Document], settings: ChunkingSettings = ChunkingSettings()
) -> list[Passage]:
    """Split each document with `split_document` and return all passages in order."""
    passages = []
    for document in documents:
        passages.extend(split_document(document, settings))
    return passages
