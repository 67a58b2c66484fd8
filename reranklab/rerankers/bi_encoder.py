"""Bi-encoder reranker: cosine similarity of sentence-transformers embeddings."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from reranklab.documents import Passage
from reranklab.embedding_cache import EmbeddingCache
from reranklab.rerankers.base import Reranker

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]


class BiEncoderReranker(Reranker):
    """Scores candidates by the cosine similarity of query and passage embeddings.

    Passage embeddings are computed once per corpus by `index` and cached on disk, so a
    query only encodes the query text. Candidates that were not indexed are encoded on
    the fly.

    Args:
        model: a loaded `SentenceTransformer`.
        model_fingerprint: identifies the model weights in the cache key
            (see `reranklab.models.model_fingerprint`).
        cache: where passage embeddings are stored; None disables the disk cache.
        batch_size: passages per encoder call. Defaults to 64.
    """

    name = "bi-encoder"

    def __init__(
        self,
        model: SentenceTransformer,
        model_fingerprint: str,
        cache: EmbeddingCache | None = None,
        batch_size: int = 64,
    ) -> None:
        self.model = model
        self.model_fingerprint = model_fingerprint
        self.cache = cache
        self.batch_size = batch_size
        self._rows: dict[str, int] = {}
        self._embeddings = np.zeros((0, 0), dtype=np.float32)
        self._token_counts: dict[str, int] = {}

    @property
    def max_seq_length(self) -> int:
        return int(self.model.max_seq_length)

    def index(self, passages: Sequence[Passage], progress: ProgressCallback | None = None) -> bool:
        """Compute or load the embeddings of every passage.

        Args:
            passages: the corpus passages.
            progress: called as `progress(done, total)` after each encoded batch.

        Returns:
            True when the embeddings came from the disk cache.
        """
        texts = [passage.full_text for passage in passages]
        key = EmbeddingCache.key(self.model_fingerprint, texts)
        embeddings = self.cache.load(key, len(texts)) if self.cache is not None else None
        from_cache = embeddings is not None

        if embeddings is None:
            embeddings = self._encode(texts, progress)
            if self.cache is not None:
                self.cache.save(key, embeddings)
        elif progress is not None:
            progress(len(texts), len(texts))

        self._embeddings = embeddings
        self._rows = {passage.passage_id: row for row, passage in enumerate(passages)}
        # The first forward pass after loading is several times slower than the next
        # ones, so one is spent here rather than in the first query's latency.
        self.model.encode(["warm-up"], show_progress_bar=False)
        self._token_counts = dict(
            zip((p.passage_id for p in passages), self._token_lengths(texts), strict=True)
        )
        logger.info("bi-encoder index: %d passages (from cache: %s)", len(texts), from_cache)
        return from_cache

    def _encode(self, texts: Sequence[str], progress: ProgressCallback | None) -> np.ndarray:
        batches = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            batches.append(
                self.model.encode(
                    list(batch),
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            )
            if progress is not None:
                progress(min(start + self.batch_size, len(texts)), len(texts))
        if not batches:
            return np.zeros((0, self.model.get_sentence_embedding_dimension() or 0), dtype=np.float32)
        return np.vstack(batches).astype(np.float32)

    def _token_lengths(self, texts: Sequence[str]) -> list[int]:
        """Return the token count of each text, special tokens included, without truncation."""
        tokenizer = self.model.tokenizer
        encoded = tokenizer(list(texts), add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def score(self, query: str, candidates: Sequence[Passage]) -> np.ndarray:
        query_embedding = self.model.encode(
            [query], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )[0]
        passage_embeddings = self._candidate_embeddings(candidates)
        return passage_embeddings @ query_embedding

    def _candidate_embeddings(self, candidates: Sequence[Passage]) -> np.ndarray:
        rows = [self._rows.get(passage.passage_id) for passage in candidates]
        missing = [i for i, row in enumerate(rows) if row is None]
        if not missing:
            return self._embeddings[rows]

        encoded = self._encode([candidates[i].full_text for i in missing], progress=None)
        dim = encoded.shape[1]
        embeddings = np.zeros((len(candidates), dim), dtype=np.float32)
        for i, row in enumerate(rows):
            if row is not None:
                embeddings[i] = self._embeddings[row]
        embeddings[missing] = encoded
        return embeddings

    def length_warnings(self, query: str, candidates: Sequence[Passage]) -> list[str]:
        warnings = []
        query_tokens = self._token_lengths([query])[0]
        if query_tokens > self.max_seq_length:
            warnings.append(
                f"The query is {query_tokens} tokens long and this model reads only the first "
                f"{self.max_seq_length}. Shorten the query to have all of it scored."
            )
        counts = [
            self._token_counts[p.passage_id] if p.passage_id in self._token_counts else 0
            for p in candidates
        ]
        over = sum(1 for count in counts if count > self.max_seq_length)
        if over:
            warnings.append(
                f"{over} of {len(candidates)} candidates are longer than this model's "
                f"{self.max_seq_length}-token limit, so the model reads only their beginning. "
                "Lower the passage size in the sidebar to score whole passages."
            )
        return warnings
