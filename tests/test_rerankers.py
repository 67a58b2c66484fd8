from __future__ import annotations

import numpy as np
import pytest

from reranklab.documents import Passage
from reranklab.embedding_cache import EmbeddingCache
from reranklab.models import load_cross_encoder
from reranklab.rerankers import BiEncoderReranker, CrossEncoderReranker, rank_by_scores

PASSAGES = [
    Passage("p#0", "p", "The stock market fell sharply on Monday as investors sold bank shares."),
    Passage("k#0", "k", "A kitten is sleeping on the warm windowsill in the afternoon sun."),
    Passage("r#0", "r", "Heavy rain flooded the streets of the old town overnight."),
    Passage("c#0", "c", "Dogs and cats are the most popular household pets in Europe."),
]


def test_rank_by_scores_orders_descending():
    ranking = rank_by_scores(PASSAGES, np.array([0.1, 0.9, 0.5, 0.9]))
    assert [item.passage.passage_id for item in ranking] == ["k#0", "c#0", "r#0", "p#0"]
    assert [item.rank for item in ranking] == [1, 2, 3, 4]
    assert ranking[0].score == pytest.approx(0.9)


def test_rank_by_scores_rejects_length_mismatch():
    with pytest.raises(ValueError, match="3 scores for 4 candidates"):
        rank_by_scores(PASSAGES, np.array([1.0, 2.0, 3.0]))


def test_bi_encoder_ranks_by_meaning(minilm, tmp_path):
    reranker = BiEncoderReranker(minilm, "minilm", cache=EmbeddingCache(tmp_path))
    reranker.index(PASSAGES)
    ranking = reranker.rerank("a young cat taking a nap", PASSAGES)
    assert ranking[0].passage.passage_id == "k#0"
    assert ranking[-1].score < ranking[0].score


def test_bi_encoder_caches_embeddings(minilm, tmp_path):
    cache = EmbeddingCache(tmp_path)
    first = BiEncoderReranker(minilm, "minilm", cache=cache)
    assert first.index(PASSAGES) is False
    assert len(list(tmp_path.glob("*.npy"))) == 1

    second = BiEncoderReranker(minilm, "minilm", cache=cache)
    assert second.index(PASSAGES) is True
    query = "flooding after a storm"
    assert [i.passage.passage_id for i in first.rerank(query, PASSAGES)] == [
        i.passage.passage_id for i in second.rerank(query, PASSAGES)
    ]


def test_bi_encoder_cache_key_depends_on_model(minilm, tmp_path):
    cache = EmbeddingCache(tmp_path)
    BiEncoderReranker(minilm, "model-a", cache=cache).index(PASSAGES)
    assert BiEncoderReranker(minilm, "model-b", cache=cache).index(PASSAGES) is False


def test_bi_encoder_scores_unindexed_candidates(minilm):
    reranker = BiEncoderReranker(minilm, "minilm", cache=None)
    reranker.index(PASSAGES[:2])
    ranking = reranker.rerank("rain in the town", PASSAGES)
    assert ranking[0].passage.passage_id == "r#0"


def test_bi_encoder_reports_passages_over_limit(minilm):
    long_passage = Passage("long#0", "long", "word " * 400)
    reranker = BiEncoderReranker(minilm, "minilm", cache=None)
    reranker.index([*PASSAGES, long_passage])
    warnings = reranker.length_warnings("query", [*PASSAGES, long_passage])
    assert len(warnings) == 1
    assert "1 of 5 candidates" in warnings[0]
    assert "256-token limit" in warnings[0]
    assert reranker.length_warnings("query", PASSAGES) == []


def test_cross_encoder_ranks_with_tiny_model(tiny_cross_encoder_path):
    model = load_cross_encoder(tiny_cross_encoder_path)
    reranker = CrossEncoderReranker(model)
    ranking = reranker.rerank("cats", PASSAGES)
    scores = model.predict([("cats", p.full_text) for p in PASSAGES])
    expected = [PASSAGES[i].passage_id for i in np.argsort(-scores, kind="stable")]
    assert [item.passage.passage_id for item in ranking] == expected
    assert [item.score for item in ranking] == sorted((item.score for item in ranking), reverse=True)


def test_cross_encoder_int8_quantizes_copy(tiny_cross_encoder_path):
    import torch
    from torch.ao.nn.quantized.dynamic import Linear as DynamicInt8Linear

    model = load_cross_encoder(tiny_cross_encoder_path)
    fp32_scores = CrossEncoderReranker(model).score("cats", PASSAGES)

    reranker = CrossEncoderReranker(model, int8=True)
    int8_scores = reranker.score("cats", PASSAGES)

    assert reranker.model is not model
    assert any(isinstance(module, DynamicInt8Linear) for module in reranker.model.modules())
    assert not any(isinstance(module, DynamicInt8Linear) for module in model.modules())
    assert any(type(module) is torch.nn.Linear for module in model.modules())
    assert int8_scores.shape == (len(PASSAGES),)
    np.testing.assert_allclose(int8_scores, fp32_scores, atol=0.05)
    assert len(reranker.rerank("cats", PASSAGES)) == len(PASSAGES)


def test_build_rerankers_int8_setting(tiny_cross_encoder_path):
    from torch.ao.nn.quantized.dynamic import Linear as DynamicInt8Linear

    from reranklab.corpus import Corpus
    from reranklab.documents import Document
    from reranklab.registry import RerankerSettings, build_rerankers

    corpus = Corpus.from_documents([Document("k", "A kitten sleeps."), Document("d", "Dogs bark.")])
    settings = RerankerSettings(cross_encoder=tiny_cross_encoder_path, cross_encoder_int8=True)

    rerankers, unavailable = build_rerankers(["bm25", "cross-encoder"], corpus, settings)

    assert unavailable == {}
    assert rerankers["cross-encoder"].int8
    assert any(isinstance(module, DynamicInt8Linear) for module in rerankers["cross-encoder"].model.modules())


def test_cross_encoder_reports_pairs_over_limit(tiny_cross_encoder_path):
    model = load_cross_encoder(tiny_cross_encoder_path)
    model.max_seq_length = 8
    warnings = CrossEncoderReranker(model).length_warnings("cats", PASSAGES)
    assert len(warnings) == 1
    assert "4 of 4 query-passage pairs" in warnings[0]


def test_cross_encoder_rejects_multi_label_model(tmp_path, minilm_path):
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    config = AutoConfig.for_model(
        "bert", vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64, num_labels=3,
    )
    AutoModelForSequenceClassification.from_config(config).save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(minilm_path).save_pretrained(tmp_path)
    reranker = CrossEncoderReranker(load_cross_encoder(str(tmp_path)))
    with pytest.raises(ValueError, match="num_labels=1"):
        reranker.rerank("cats", PASSAGES)


def test_empty_candidates_give_empty_ranking(tiny_cross_encoder_path):
    reranker = CrossEncoderReranker(load_cross_encoder(tiny_cross_encoder_path))
    assert reranker.rerank("cats", []) == []


def test_shipped_sample_embeddings_match_encoder(minilm, tmp_path):
    from reranklab.corpus import Corpus
    from reranklab.models import model_fingerprint, resolve_model

    root = __import__("pathlib").Path(__file__).resolve().parent.parent
    corpus = Corpus.from_paths([root / "assets" / "sample_corpus.jsonl"])
    fingerprint = model_fingerprint(resolve_model("sentence-transformers/all-MiniLM-L6-v2"))
    seeded = BiEncoderReranker(
        minilm, fingerprint, cache=EmbeddingCache(tmp_path, seed_directories=[root / "assets" / "embeddings"])
    )
    assert seeded.index(corpus.passages) is True
    assert list(tmp_path.iterdir()) == []

    sample = corpus.passages[:8]
    fresh = minilm.encode([p.full_text for p in sample], normalize_embeddings=True)
    shipped = seeded._candidate_embeddings(sample)
    np.testing.assert_allclose(shipped, fresh, atol=1e-4)
