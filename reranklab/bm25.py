"""BM25 first-stage retrieval over passages, built on bm25s.

`BM25Index.build` tokenizes every passage with `reranklab.tokenization.Tokenizer` and
hands the token ids to `bm25s.BM25`, which precomputes the score of every (token, passage)
pair in a sparse matrix. A query then costs one sum over the columns of its tokens.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import bm25s
import numpy as np
from bm25s.tokenization import Tokenized

from reranklab.documents import Passage, RankedPassage
from reranklab.tokenization import Tokenizer, TokenizerSettings

logger = logging.getLogger(__name__)

BM25Variant = Literal["okapi", "lucene", "bm25l", "bm25+"]
BM25_VARIANTS: tuple[str, ...] = get_args(BM25Variant)

# bm25s's `method` for each variant.
_BM25S_METHODS: dict[str, str] = {
    "okapi": "robertson",
    "lucene": "lucene",
    "bm25l": "bm25l",
    "bm25+": "bm25+",
}


@dataclass(frozen=True)
class BM25Settings:
    """Scoring function and tokenizer of a `BM25Index`.

    With N passages, n of them containing the token, tf its count in the passage, dl the
    passage length in tokens and avgdl the mean length, bm25s 0.3.16 (bm25s/scoring.py)
    sums, over the query tokens, idf × tf part:

    - "okapi" (Robertson): idf = ln((N - n + 0.5) / (n + 0.5)), clipped at 0, and
      tf part = tf / (tf + k1 × (1 - b + b × dl / avgdl)).
    - "lucene": idf = ln(1 + (N - n + 0.5) / (n + 0.5)), which is always positive, and
      the same tf part.
    - "bm25l": idf = ln((N + 1) / (n + 0.5)), c = tf / (1 - b + b × dl / avgdl) and
      tf part = (k1 + 1) × (c + delta) / (k1 + c + delta).
    - "bm25+": idf = ln((N + 1) / n) and
      tf part = (k1 + 1) × tf / (k1 × (1 - b + b × dl / avgdl) + tf) + delta.

    The okapi idf is negative for a token in more than half of the passages, and bm25s
    clips it at 0, so such a token adds nothing to any score. rank_bm25's BM25Okapi gives
    it 0.25 × the mean idf of the vocabulary instead, so the two rank differently on such
    queries. rank_bm25 also multiplies the okapi tf part by (k1 + 1), a constant that
    changes the scores but not the ranking.

    Attributes:
        variant: the scoring function above. Defaults to "lucene".
        k1: term frequency saturation, >= 0. 0 ignores term frequency.
        b: length normalization, from 0 (none) to 1 (full).
        delta: the lower bound that bm25l and bm25+ add for a matched token, >= 0. The
            other variants ignore it.
        tokenizer: tokenizer settings, used for the passages and for every query.

    Raises:
        ValueError: a value is out of range. The message names the field and the value.
    """

    variant: BM25Variant = "lucene"
    k1: float = 1.5
    b: float = 0.75
    delta: float = 0.5
    tokenizer: TokenizerSettings = TokenizerSettings()

    def __post_init__(self) -> None:
        if self.variant not in BM25_VARIANTS:
            choices = ", ".join(repr(variant) for variant in BM25_VARIANTS)
            raise ValueError(f"invalid BM25 variant {self.variant!r}; use one of {choices}")
        if not (math.isfinite(self.k1) and self.k1 >= 0):
            raise ValueError(f"invalid k1 {self.k1!r}; k1 must be a number >= 0, such as 1.5")
        if not 0 <= self.b <= 1:
            raise ValueError(f"invalid b {self.b!r}; b must be between 0 and 1, such as 0.75")
        if not (math.isfinite(self.delta) and self.delta >= 0):
            raise ValueError(f"invalid delta {self.delta!r}; delta must be a number >= 0")


class BM25Index:
    """BM25 index over a fixed list of passages. Create it with `BM25Index.build`.

    Searching reads the score matrix without changing it. The only state that a query
    changes is the tokenizer's stem cache, so threads may share one index.

    Attributes:
        settings: the settings the index was built with.
        passages: the indexed passages. Score arrays and ranks refer to this order.
        tokenizer: the tokenizer used for the passages, which must also split the queries.
    """

    def __init__(
        self,
        passages: list[Passage],
        settings: BM25Settings,
        tokenizer: Tokenizer,
        retriever: bm25s.BM25,
    ) -> None:
        self.settings = settings
        self.passages = passages
        self.tokenizer = tokenizer
        self._retriever = retriever

    @classmethod
    def build(
        cls, passages: Sequence[Passage], settings: BM25Settings = BM25Settings()
    ) -> BM25Index:
        """Tokenize and index the passages. Each passage is indexed by its `full_text`,
        which is the title and the text.

        Args:
            passages: the passages to index, in the order that `scores` returns.
            settings: variant, parameters and tokenizer. Defaults to Lucene BM25 with
                k1=1.5, b=0.75 and English stopwords and stemming.

        Raises:
            ValueError: `passages` is empty, or no passage contains a single token.
        """
        passages = list(passages)
        if not passages:
            raise ValueError("no passages to index; upload at least one readable file")

        tokenizer = Tokenizer(settings.tokenizer)
        corpus_tokens = tokenizer.tokenize_many(passage.full_text for passage in passages)

        # Token ids in order of first occurrence. bm25s.BM25.index would also accept the
        # token lists, but it builds the vocabulary from a set, in an order that changes
        # between runs, and makes two more passes over the corpus.
        vocab: dict[str, int] = {}
        corpus_ids = [
            [vocab.setdefault(token, len(vocab)) for token in tokens] for tokens in corpus_tokens
        ]
        if not vocab:
            raise ValueError(
                f"none of the {len(passages)} passages contains a word that BM25 can index: "
                "their text is only stopwords, punctuation or one-character words. Check that "
                "the files contain text, or set stopwords=None in the tokenizer settings."
            )

        retriever = bm25s.BM25(
            k1=settings.k1,
            b=settings.b,
            delta=settings.delta,
            method=_BM25S_METHODS[settings.variant],
        )
        # No empty token: bm25s adds "" to score token-less queries, which return [] here.
        retriever.index(
            Tokenized(ids=corpus_ids, vocab=vocab), create_empty_token=False, show_progress=False
        )
        logger.info(
            "Indexed %d passages with BM25 variant %s (%d distinct tokens)",
            len(passages),
            settings.variant,
            len(vocab),
        )
        return cls(passages, settings, tokenizer, retriever)

    def __len__(self) -> int:
        return len(self.passages)

    def query_tokens(self, query: str) -> list[str]:
        """Tokenize a query as the index does, keeping only tokens in the index vocabulary.

        A repeated token is kept each time, because each occurrence adds to the score.
        `self.tokenizer.tokenize(query)` also returns the tokens that no passage contains.
        """
        vocab = self._retriever.vocab_dict
        return [token for token in self.tokenizer.tokenize(query) if token in vocab]

    def scores(self, query: str) -> np.ndarray:
        """Compute the BM25 score of every passage for a query.

        Returns:
            float32 array of shape (len(self.passages),). All zeros when the query has no
            token in the vocabulary. With bm25l and bm25+, a passage that contains none of
            the query tokens still scores above 0 (see `search`).
        """
        token_ids = self._query_token_ids(query)
        if not token_ids:
            return np.zeros(len(self.passages), dtype=np.float32)
        return self._retriever.get_scores_from_ids(token_ids)

    def search(self, query: str, top_k: int = 100) -> list[RankedPassage]:
        """Rank the passages that match a query, best first.

        Only passages that contain at least one query token and score above 0 are returned.
        With okapi, a passage whose only query tokens occur in half of the passages or
        more therefore drops out, because their idf is clipped to 0. With bm25l and
        bm25+, every passage gets idf × tf part(tf=0) for each query token, so a passage
        without any query token scores above 0 and is still left out.

        Args:
            query: the query text.
            top_k: maximum number of passages to return. It may exceed the number of
                passages.

        Returns:
            Up to `top_k` passages with 1-based ranks and their BM25 scores. Passages with
            equal scores keep their order in `self.passages`. Empty when the query is empty,
            or when all its tokens are stopwords or absent from the passages.

        Raises:
            ValueError: `top_k` is less than 1.
        """
        if top_k < 1:
            raise ValueError(f"invalid top_k {top_k!r}; top_k must be at least 1")

        token_ids = self._query_token_ids(query)
        if not token_ids:
            return []

        scores = self._retriever.get_scores_from_ids(token_ids)
        candidates = self._matching_passage_indices(token_ids, scores)
        candidate_scores = scores[candidates]
        if len(candidates) > top_k:
            # np.partition finds the top_k-th best score in linear time. Every candidate at
            # or above it is kept, so ties at the cut are broken by passage order in the
            # stable sort below, not by the partition's arbitrary order.
            cut = len(candidates) - top_k
            threshold = np.partition(candidate_scores, cut)[cut]
            at_or_above_cut = candidate_scores >= threshold
            candidates = candidates[at_or_above_cut]
            candidate_scores = candidate_scores[at_or_above_cut]

        order = np.argsort(-candidate_scores, kind="stable")[:top_k]
        return [
            RankedPassage(passage=self.passages[index], rank=rank, score=float(scores[index]))
            for rank, index in enumerate(candidates[order].tolist(), start=1)
        ]

    def _query_token_ids(self, query: str) -> list[int]:
        """Return the vocabulary ids of the query tokens, leaving out unknown tokens."""
        return self._retriever.get_tokens_ids(self.tokenizer.tokenize(query))

    def _matching_passage_indices(self, token_ids: list[int], scores: np.ndarray) -> np.ndarray:
        """Return the indices, ascending, of the passages that `search` may return."""
        if self._retriever.nonoccurrence_array is None:
            # okapi and lucene: a passage scores above 0 only if it contains a query token.
            return np.flatnonzero(scores > 0)

        # bm25l and bm25+ give every passage a positive floor, so read the postings of
        # the score matrix (compressed sparse columns, one column per token).
        indptr = self._retriever.scores["indptr"]
        indices = self._retriever.scores["indices"]
        matched = np.zeros(len(scores), dtype=bool)
        for token_id in set(token_ids):
            matched[indices[indptr[token_id] : indptr[token_id + 1]]] = True
        return np.flatnonzero(matched)
