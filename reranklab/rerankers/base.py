"""The interface that every reranker implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from reranklab.documents import Passage, RankedPassage


class Reranker(ABC):
    """Orders BM25 candidates for a query.

    Subclasses set `name` (the method id used in results, exports and the CLI) and
    implement `rerank`. Rerankers that compute a score per candidate implement `score`
    instead and inherit `rerank`.
    """

    name: str = ""
    # True for rerankers that call a web service; the compare pipeline runs those in
    # threads so that they do not wait for each other or for the local models.
    remote: bool = False

    def rerank(self, query: str, candidates: Sequence[Passage]) -> list[RankedPassage]:
        """Return the candidates ordered best first, with 1-based ranks and scores.

        Ties keep the candidates' input order, which is the BM25 order.
        """
        if not candidates:
            return []
        scores = np.asarray(self.score(query, candidates), dtype=np.float64)
        return rank_by_scores(candidates, scores)

    @abstractmethod
    def score(self, query: str, candidates: Sequence[Passage]) -> np.ndarray:
        """Return one score per candidate, shape (len(candidates),), higher is better."""

    def length_warnings(self, query: str, candidates: Sequence[Passage]) -> list[str]:
        """Return messages about candidates longer than the model reads, or [] when none are."""
        return []


def rank_by_scores(candidates: Sequence[Passage], scores: np.ndarray) -> list[RankedPassage]:
    """Sort candidates by descending score; equal scores keep their input order."""
    if len(scores) != len(candidates):
        raise ValueError(f"got {len(scores)} scores for {len(candidates)} candidates")
    order = np.argsort(-scores, kind="stable")
    return [
        RankedPassage(passage=candidates[i], rank=rank, score=float(scores[i]))
        for rank, i in enumerate(order, start=1)
    ]


def count_over_limit(token_counts: Sequence[int], limit: int) -> int:
    """Return how many token counts exceed `limit`."""
    return int(sum(1 for count in token_counts if count > limit))
