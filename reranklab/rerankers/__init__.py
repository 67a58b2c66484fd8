"""Rerankers behind one interface: `Reranker.rerank(query, candidates)`."""

from reranklab.rerankers.base import Reranker, rank_by_scores
from reranklab.rerankers.bi_encoder import BiEncoderReranker
from reranklab.rerankers.cross_encoder import CrossEncoderReranker

__all__ = ["BiEncoderReranker", "CrossEncoderReranker", "Reranker", "rank_by_scores"]
