from __future__ import annotations

import pytest

from reranklab.documents import Passage, RankedPassage
from reranklab.fusion import reciprocal_rank_fusion


def ranking(*ids: str) -> list[RankedPassage]:
    return [RankedPassage(Passage(i, i, i), rank, None) for rank, i in enumerate(ids, start=1)]


def test_rrf_scores_by_hand():
    fused = reciprocal_rank_fusion([ranking("a", "b", "c"), ranking("c", "a", "b")], k=60)
    scores = {item.passage.passage_id: item.score for item in fused}
    assert scores["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert scores["b"] == pytest.approx(1 / 62 + 1 / 63)
    assert [item.passage.passage_id for item in fused] == ["a", "c", "b"]
    assert [item.rank for item in fused] == [1, 2, 3]


def test_rrf_includes_passages_from_one_ranking():
    fused = reciprocal_rank_fusion([ranking("a"), ranking("b", "a")], k=1)
    assert [item.passage.passage_id for item in fused] == ["a", "b"]


def test_rrf_ties_keep_first_appearance():
    fused = reciprocal_rank_fusion([ranking("a", "b"), ranking("b", "a")], k=60)
    assert [item.passage.passage_id for item in fused] == ["a", "b"]


def test_rrf_rejects_k_below_one():
    with pytest.raises(ValueError, match="got 0"):
        reciprocal_rank_fusion([ranking("a")], k=0)
