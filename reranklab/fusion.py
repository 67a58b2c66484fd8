"""Reciprocal rank fusion of several rankings of the same candidates."""

from __future__ import annotations

from collections.abc import Sequence

from reranklab.documents import Passage, RankedPassage


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[RankedPassage]], k: int = 60
) -> list[RankedPassage]:
    """Fuse rankings by summing 1 / (k + rank) over the rankings that contain each passage.

    The formula and the default k=60 come from Cormack, Clarke and Büttcher, "Reciprocal
    Rank Fusion outperforms Condorcet and individual Rank Learning Methods" (SIGIR 2009).

    Args:
        rankings: each a best-first list with 1-based ranks.
        k: smoothing constant, at least 1. Larger values flatten the weight of top ranks.

    Returns:
        The union of passages, best first; equal fused scores keep the order in which
        the passages first appear across the rankings.
    """
    if k < 1:
        raise ValueError(f"RRF k must be at least 1, got {k}")
    scores: dict[str, float] = {}
    passages: dict[str, Passage] = {}
    for ranking in rankings:
        for item in ranking:
            passage_id = item.passage.passage_id
            passages.setdefault(passage_id, item.passage)
            scores[passage_id] = scores.get(passage_id, 0.0) + 1.0 / (k + item.rank)

    ordered = sorted(scores, key=lambda passage_id: -scores[passage_id])
    return [
        RankedPassage(passage=passages[passage_id], rank=rank, score=scores[passage_id])
        for rank, passage_id in enumerate(ordered, start=1)
    ]
