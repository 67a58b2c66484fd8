"""Tests of the benchmark helpers: corpus generators, agreement and ranking metrics."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from benchmarks.cost_growth import random_unit_vectors
from benchmarks.first_stage import reference_top_k, top_k_agrees, zipf_corpus, zipf_queries
from benchmarks.rerankers import ndcg_at_k, top_k_overlap


def test_zipf_corpus_is_deterministic():
    first = zipf_corpus(200, vocabulary_size=1000, seed=7)
    second = zipf_corpus(200, vocabulary_size=1000, seed=7)
    other_seed = zipf_corpus(200, vocabulary_size=1000, seed=8)

    assert first == second
    assert first != other_seed


def test_zipf_corpus_shape_and_vocabulary():
    documents = zipf_corpus(500, vocabulary_size=1000, mean_length=20, seed=1)
    words = [word for document in documents for word in document.split()]

    assert len(documents) == 500
    assert all(len(document.split()) >= 3 for document in documents)
    assert 15 < len(words) / len(documents) < 25
    assert set(words) <= {f"w{rank}" for rank in range(1, 1001)}


def test_zipf_corpus_rank_one_is_most_frequent():
    documents = zipf_corpus(1000, vocabulary_size=1000, exponent=1.1, seed=3)
    counts = Counter(word for document in documents for word in document.split())

    assert counts.most_common(1)[0][0] == "w1"
    # Under a Zipf law with exponent 1.1, rank 1 is 2**1.1 (about 2.1) times as frequent as rank 2.
    assert 1.7 < counts["w1"] / counts["w2"] < 2.6


def test_zipf_queries_come_from_one_document():
    documents = zipf_corpus(100, vocabulary_size=500, seed=4)
    queries = zipf_queries(documents, 50, seed=4)

    assert queries == zipf_queries(documents, 50, seed=4)
    for query in queries:
        words = query.split()
        assert 2 <= len(words) <= 5
        assert len(set(words)) == len(words)
        assert any(set(words) <= set(document.split()) for document in documents)


def test_top_k_agrees_same_list():
    scores = np.array([0.0, 3.0, 1.0, 2.0, 0.5])

    assert top_k_agrees([1, 3, 2], scores, top_k=3)


def test_top_k_agrees_ties_in_any_order():
    # Documents 1, 2 and 3 tie, so any two of them form a valid top 2.
    scores = np.array([0.0, 2.0, 2.0, 2.0, 1.0])

    assert top_k_agrees([3, 1], scores, top_k=2)
    assert top_k_agrees([2, 3], scores, top_k=2)


def test_top_k_agrees_rejects_lower_document():
    scores = np.array([0.0, 3.0, 1.0, 2.0, 0.5])

    assert not top_k_agrees([1, 2, 4], scores, top_k=3)


def test_top_k_agrees_rejects_short_list():
    scores = np.array([0.0, 3.0, 1.0, 2.0, 0.5])

    assert not top_k_agrees([1, 3], scores, top_k=3)


def test_top_k_agrees_ignores_zero_padding():
    # Only two documents match; an engine that pads its top 3 with a zero-score document agrees.
    scores = np.array([0.0, 3.0, 0.0, 2.0, 0.0])

    assert top_k_agrees([1, 3, 0], scores, top_k=3)
    assert top_k_agrees([1, 3], scores, top_k=3)


def test_top_k_agrees_tolerates_float32_rounding():
    # In float32, documents 0 and 1 tie, so an engine may pick document 0 for the second place.
    scores = np.array([1.0, 1.0 + 1e-7, 3.0])

    assert top_k_agrees([2, 0], scores, top_k=2)
    assert not top_k_agrees([2, 0], scores, top_k=2, rtol=1e-9)


def test_reference_top_k_tie_order():
    scores = np.array([0.0, 2.0, 5.0, 2.0, 0.0])

    assert reference_top_k(scores, top_k=10) == [2, 1, 3]
    assert reference_top_k(scores, top_k=2) == [2, 1]


def test_ndcg_at_k_perfect_and_missing():
    assert ndcg_at_k(["a", "b", "c"], {"a"}) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "y"], {"a"}) == 0.0


def test_ndcg_at_k_second_rank():
    assert ndcg_at_k(["x", "a"], {"a"}) == pytest.approx(1 / math.log2(3))


def test_ndcg_at_k_counts_repeated_document_once():
    # Two passages of document "x" take one rank, so "a" is at rank 2.
    assert ndcg_at_k(["x", "x", "a"], {"a"}) == pytest.approx(1 / math.log2(3))


def test_ndcg_at_k_two_relevant():
    value = ndcg_at_k(["a", "x", "b"], {"a", "b"}, k=10)
    ideal = 1 + 1 / math.log2(3)

    assert value == pytest.approx((1 + 1 / math.log2(4)) / ideal)


def test_ndcg_at_k_cuts_at_k():
    assert ndcg_at_k(["x", "y", "a"], {"a"}, k=2) == 0.0


def test_top_k_overlap():
    assert top_k_overlap(["a", "b", "c"], ["c", "b", "a"], k=3) == 1.0
    assert top_k_overlap(["a", "b", "c", "d"], ["a", "x", "y", "b"], k=2) == 0.5
    assert top_k_overlap([], ["a"], k=10) == 1.0


def test_random_unit_vectors_shape_and_norm():
    vectors = random_unit_vectors(50, 384, seed=5)

    assert vectors.shape == (50, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(vectors, random_unit_vectors(50, 384, seed=5))
    assert not np.array_equal(vectors, random_unit_vectors(50, 384, seed=6))
