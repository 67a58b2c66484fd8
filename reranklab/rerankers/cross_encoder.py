"""Cross-encoder reranker: a sentence-transformers `CrossEncoder` reads each (query, passage) pair."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from reranklab.documents import Passage
from reranklab.rerankers.base import Reranker

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

logger = logging.getLogger(__name__)


class CrossEncoderReranker(Reranker):
    """Scores each candidate with a cross-encoder; the score is the model's output for the pair.

    Args:
        model: a loaded `CrossEncoder` with one output label.
        batch_size: pairs per forward pass. Defaults to 32.
    """

    name = "cross-encoder"

    def __init__(self, model: CrossEncoder, batch_size: int = 32) -> None:
        self.model = model
        self.batch_size = batch_size
        # The first forward pass after loading is several times slower than the next
        # ones, so one is spent here rather than in the first query's latency.
        self.model.predict([("warm-up", "warm-up")], show_progress_bar=False)

    @property
    def max_seq_length(self) -> int:
        return int(self.model.max_seq_length)

    def score(self, query: str, candidates: Sequence[Passage]) -> np.ndarray:
        pairs = [(query, passage.full_text) for passage in candidates]
        scores = self.model.predict(
            pairs, batch_size=self.batch_size, show_progress_bar=False, convert_to_numpy=True
        )
        scores = np.asarray(scores, dtype=np.float64)
        if scores.ndim != 1:
            raise ValueError(
                f"cross-encoder returned scores of shape {scores.shape}; a reranking model "
                "needs one output label (num_labels=1)"
            )
        return scores

    def length_warnings(self, query: str, candidates: Sequence[Passage]) -> list[str]:
        if not candidates:
            return []
        tokenizer = self.model.tokenizer
        encoded = tokenizer(
            [query] * len(candidates),
            [passage.full_text for passage in candidates],
            truncation=False,
            verbose=False,
        )["input_ids"]
        over = sum(1 for ids in encoded if len(ids) > self.max_seq_length)
        if not over:
            return []
        query_tokens = len(tokenizer(query, truncation=False, verbose=False)["input_ids"])
        if query_tokens > self.max_seq_length // 2:
            # Truncation then cuts the query and the passage, so a shorter passage does not help.
            return [
                f"The query is {query_tokens} tokens long, so little of each passage fits in "
                f"this model's {self.max_seq_length}-token limit for a query-passage pair. "
                "Shorten the query to have the passages scored."
            ]
        return [
            f"{over} of {len(candidates)} query-passage pairs are longer than this model's "
            f"{self.max_seq_length}-token limit, so the model reads only their beginning. "
            "Lower the passage size in the sidebar to score whole passages."
        ]
