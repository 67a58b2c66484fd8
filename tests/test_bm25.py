from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import rank_bm25

from reranklab.bm25 import BM25_VARIANTS, BM25Index, BM25Settings
from reranklab.documents import Passage
from reranklab.tokenization import Tokenizer, TokenizerSettings

# No token occurs in more than half of these sentences (test_corpus_has_no_common_token
# checks it), so every Robertson idf is positive and rank_bm25 applies no idf floor.
CORPUS = [
    "The Amazon rainforest produces a large share of the oxygen on Earth.",
    "Deforestation in the Amazon has accelerated because of cattle ranching.",
    "Coral reefs bleach when ocean temperatures stay high for several weeks.",
    "Rising ocean temperatures also push fish populations toward the poles.",
    "The Great Barrier Reef is the largest coral reef system in the world.",
    "Python is a popular programming language for data analysis.",
    "Rust guarantees memory safety without a garbage collector.",
    "The Python interpreter uses reference counting and a cycle-detecting garbage collector.",
    "Java programs run on the Java virtual machine.",
    "A virtual machine isolates programs from the host operating system.",
    "BM25 ranks documents by term frequency and inverse document frequency.",
    "Neural rerankers rescore the candidates that a first-stage retriever returns.",
    "A cross-encoder reads the query and the passage together.",
    "Dense retrievers encode queries and passages into vectors.",
    "Inverse document frequency gives rare terms more weight than common terms.",
    "The French Revolution began in 1789 with the storming of the Bastille.",
    "Napoleon crowned himself emperor of France in 1804.",
    "The Roman Empire split into eastern and western halves.",
    "Constantinople was the capital of the eastern Roman Empire.",
    "Marathon runners train by running long distances every week.",
    "Sprinters train explosive power with short intervals.",
    "Running shoes wear out after about eight hundred kilometres.",
    "Espresso is brewed by forcing hot water through finely ground coffee.",
    "Green tea contains less caffeine than coffee.",
    "Caffeine blocks adenosine receptors in the brain.",
    "Sleep deprivation impairs memory and attention.",
    "The brain consolidates memory during deep sleep.",
    "Photosynthesis converts light energy into chemical energy in plants.",
    "Plants absorb carbon dioxide and release oxygen.",
    "Solar panels convert light into electricity.",
]

QUERIES = [
    "amazon rainforest oxygen",
    "ocean temperature coral",
    "garbage collector memory",
    "virtual machine programs",
    "inverse document frequency",
    "query passage retriever",
    "roman empire capital",
    "running marathon training",
    "coffee caffeine",
    "sleep memory brain",
    "light energy plants",
    "french revolution napoleon",
    "memory",
]

# Clearly relevant passage for each query, by index in CORPUS.
RELEVANT = {
    "coral reef bleaching in warm oceans": 2,
    "python garbage collector": 7,
    "brewing espresso coffee": 22,
    "storming of the bastille": 15,
}


def make_passages(texts: list[str]) -> list[Passage]:
    return [
        Passage(passage_id=f"doc{i}#0", doc_id=f"doc{i}", text=text) for i, text in enumerate(texts)
    ]


def positive_ranking(scores: np.ndarray) -> list[int]:
    """Return the indices of the positive scores, best first, ties in index order."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    return [int(i) for i in order if scores[i] > 0]


def tokenized_corpus(texts: list[str]) -> list[list[str]]:
    return Tokenizer().tokenize_many(texts)


def test_corpus_has_no_common_token() -> None:
    document_frequency = Counter(token for tokens in tokenized_corpus(CORPUS) for token in set(tokens))

    most_common_token, count = document_frequency.most_common(1)[0]

    assert count <= len(CORPUS) / 2, most_common_token


@pytest.mark.parametrize(("k1", "b"), [(1.5, 0.75), (1.2, 0.4), (0.9, 1.0)])
def test_okapi_matches_rank_bm25(k1: float, b: float) -> None:
    index = BM25Index.build(make_passages(CORPUS), BM25Settings(variant="okapi", k1=k1, b=b))
    reference = rank_bm25.BM25Okapi(tokenized_corpus(CORPUS), k1=k1, b=b)

    for query in QUERIES:
        expected = reference.get_scores(index.tokenizer.tokenize(query))
        scores = index.scores(query)
        ranking = [hit.passage.passage_id for hit in index.search(query, top_k=len(CORPUS))]

        assert positive_ranking(scores) == positive_ranking(expected), query
        assert ranking == [f"doc{i}#0" for i in positive_ranking(expected)], query
        # bm25s leaves out rank_bm25's (k1 + 1) factor: a constant, so rankings are equal.
        np.testing.assert_allclose(scores * (k1 + 1), expected, rtol=1e-5, atol=1e-6, err_msg=query)


def test_okapi_negative_idf_vs_rank_bm25() -> None:
    # "data" occurs in 3 of 4 passages, so Robertson's idf ln((4 - 3 + 0.5) / (3 + 0.5))
    # is negative. bm25s clips it to 0, and rank_bm25 replaces it with 0.25 × the mean idf
    # of the vocabulary, which is positive here. The difference is deliberate: bm25s is the
    # implementation under test, and the okapi variant keeps its behaviour.
    texts = [
        "data pipelines move data between systems",
        "data warehouses store historical data",
        "a data lake keeps raw files",
        "kubernetes schedules containers",
    ]
    index = BM25Index.build(make_passages(texts), BM25Settings(variant="okapi"))
    reference = rank_bm25.BM25Okapi(tokenized_corpus(texts))

    scores = index.scores("data")
    expected = reference.get_scores(["data"])

    assert np.all(scores == 0)
    assert np.all(expected[:3] > 0)
    assert expected[3] == 0
    assert index.search("data") == []


def test_okapi_common_token_adds_nothing() -> None:
    texts = [
        "data pipelines move data between systems",
        "data warehouses store historical data",
        "a data lake keeps raw files",
        "kubernetes schedules containers",
    ]
    index = BM25Index.build(make_passages(texts), BM25Settings(variant="okapi"))

    np.testing.assert_array_equal(index.scores("data lake"), index.scores("lake"))


def test_bm25_plus_matches_rank_bm25() -> None:
    settings = BM25Settings(variant="bm25+", k1=1.2, b=0.75, delta=1.0)
    index = BM25Index.build(make_passages(CORPUS), settings)
    reference = rank_bm25.BM25Plus(tokenized_corpus(CORPUS), k1=1.2, b=0.75, delta=1.0)

    for query in QUERIES:
        expected = reference.get_scores(index.tokenizer.tokenize(query))

        np.testing.assert_allclose(index.scores(query), expected, rtol=1e-5, err_msg=query)


def reference_scores(
    texts: list[str], query: str, variant: str, k1: float, b: float, delta: float
) -> np.ndarray:
    """Score the texts with the textbook formula of a variant, in float64."""
    corpus = tokenized_corpus(texts)
    n_docs = len(corpus)
    average_length = sum(len(tokens) for tokens in corpus) / n_docs
    document_frequency = Counter(token for tokens in corpus for token in set(tokens))
    scores = np.zeros(n_docs)
    for token in Tokenizer().tokenize(query):
        n = document_frequency[token]
        if n == 0:
            continue
        for i, tokens in enumerate(corpus):
            tf = tokens.count(token)
            norm = 1 - b + b * len(tokens) / average_length
            if variant == "lucene":
                idf = math.log(1 + (n_docs - n + 0.5) / (n + 0.5))
                scores[i] += idf * tf / (tf + k1 * norm)
            elif variant == "bm25l":
                idf = math.log((n_docs + 1) / (n + 0.5))
                c = tf / norm
                scores[i] += idf * (k1 + 1) * (c + delta) / (k1 + c + delta)
    return scores


@pytest.mark.parametrize("variant", ["lucene", "bm25l"])
def test_variant_matches_formula(variant: str) -> None:
    settings = BM25Settings(variant=variant, k1=1.3, b=0.6, delta=0.4)
    index = BM25Index.build(make_passages(CORPUS), settings)

    for query in QUERIES:
        expected = reference_scores(CORPUS, query, variant, k1=1.3, b=0.6, delta=0.4)

        np.testing.assert_allclose(index.scores(query), expected, rtol=1e-5, err_msg=query)


@pytest.mark.parametrize("variant", BM25_VARIANTS)
def test_variant_ranks_relevant_passage_first(variant: str) -> None:
    index = BM25Index.build(make_passages(CORPUS), BM25Settings(variant=variant))

    for query, relevant in RELEVANT.items():
        hits = index.search(query, top_k=5)

        assert hits[0].passage.passage_id == f"doc{relevant}#0", query


@pytest.mark.parametrize("variant", BM25_VARIANTS)
def test_search_returns_only_matching_passages(variant: str) -> None:
    index = BM25Index.build(make_passages(CORPUS), BM25Settings(variant=variant))
    matching = {2, 3, 4}  # the passages that contain "coral" or "ocean"

    hits = index.search("coral ocean", top_k=100)

    assert {int(hit.passage.doc_id.removeprefix("doc")) for hit in hits} == matching


def test_bm25l_scores_non_matching_above_zero() -> None:
    index = BM25Index.build(make_passages(CORPUS), BM25Settings(variant="bm25l"))

    scores = index.scores("coral")

    assert scores[0] > 0
    assert scores[2] > scores[0]


def test_search_ranks_and_scores() -> None:
    index = BM25Index.build(make_passages(CORPUS))
    scores = index.scores("memory brain sleep")

    hits = index.search("memory brain sleep")

    assert [hit.rank for hit in hits] == list(range(1, len(hits) + 1))
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    for hit in hits:
        assert hit.score == pytest.approx(float(scores[CORPUS.index(hit.passage.text)]))


def test_search_top_k_limits_results() -> None:
    index = BM25Index.build(make_passages(CORPUS))

    hits = index.search("memory brain sleep", top_k=2)

    assert [hit.passage.doc_id for hit in hits] == ["doc26", "doc25"]


def test_search_top_k_larger_than_corpus() -> None:
    index = BM25Index.build(make_passages(CORPUS[:3]))

    hits = index.search("amazon ocean", top_k=1000)

    assert sorted(hit.passage.doc_id for hit in hits) == ["doc0", "doc1", "doc2"]
    assert [hit.rank for hit in hits] == [1, 2, 3]


def test_search_breaks_ties_by_passage_order() -> None:
    # 300 equal scores: enough that np.argpartition alone would pick arbitrary ties.
    texts = ["wind turbines"] * 50 + ["solar panels on roofs"] * 300 + ["solar power plants"]
    index = BM25Index.build(make_passages(texts))

    top_ten = index.search("roofs", top_k=10)
    all_hits = index.search("roofs", top_k=1000)

    assert [hit.passage.doc_id for hit in top_ten] == [f"doc{i}" for i in range(50, 60)]
    assert [hit.passage.doc_id for hit in all_hits] == [f"doc{i}" for i in range(50, 350)]


def test_search_rejects_top_k_below_one() -> None:
    index = BM25Index.build(make_passages(CORPUS))

    with pytest.raises(ValueError, match="top_k"):
        index.search("coral", top_k=0)


@pytest.mark.parametrize("query", ["", "   ", "the of and", "zyzzyva quux", "?!"])
def test_search_unknown_query_returns_nothing(query: str) -> None:
    index = BM25Index.build(make_passages(CORPUS))

    hits = index.search(query)
    scores = index.scores(query)

    assert hits == []
    assert scores.shape == (len(CORPUS),)
    assert not scores.any()


def test_scores_shape_and_dtype() -> None:
    index = BM25Index.build(make_passages(CORPUS))

    scores = index.scores("coral reef")

    assert scores.shape == (len(CORPUS),)
    assert scores.dtype == np.float32


def test_query_tokens_are_stemmed_and_known() -> None:
    index = BM25Index.build(make_passages(CORPUS))

    tokens = index.query_tokens("The runners were running past zyzzyva")

    assert tokens == ["runner", "run"]


def test_build_indexes_title() -> None:
    passages = [
        Passage(passage_id="a#0", doc_id="a", text="It is warm and humid.", title="Tropical"),
        Passage(passage_id="b#0", doc_id="b", text="Snow covers the ground.", title="Polar"),
    ]
    index = BM25Index.build(passages)

    hits = index.search("tropical")

    assert [hit.passage.doc_id for hit in hits] == ["a"]


def test_build_rejects_no_passages() -> None:
    with pytest.raises(ValueError, match="no passages to index; upload at least one readable"):
        BM25Index.build([])


def test_build_rejects_passages_without_tokens() -> None:
    with pytest.raises(ValueError, match="none of the 2 passages"):
        BM25Index.build(make_passages(["the of and", "!!!"]))


def test_build_keeps_passages_without_tokens() -> None:
    index = BM25Index.build(make_passages(["the of and", "coral reefs", ""]))

    hits = index.search("coral")

    assert len(index) == 3
    assert [hit.passage.doc_id for hit in hits] == ["doc1"]


def test_search_chinese_corpus() -> None:
    texts = [
        "北京是中国的首都，也是政治和文化中心。",
        "上海是中国最大的经济城市，港口非常繁忙。",
        "熊猫主要生活在四川的竹林里，以竹子为食。",
        "长城是古代中国为了防御北方游牧民族而修建的。",
        "深度学习模型需要大量的训练数据。",
    ]
    index = BM25Index.build(make_passages(texts))

    assert index.search("熊猫吃什么")[0].passage.doc_id == "doc2"
    assert index.search("中国的首都是哪里")[0].passage.doc_id == "doc0"
    assert index.search("长城为什么修建")[0].passage.doc_id == "doc3"
    assert index.search("BERT模型训练")[0].passage.doc_id == "doc4"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("variant", "bm25x", "invalid BM25 variant 'bm25x'"),
        ("k1", -0.1, "invalid k1 -0.1"),
        ("k1", math.inf, "invalid k1 inf"),
        ("k1", math.nan, "invalid k1 nan"),
        ("b", 1.5, "invalid b 1.5"),
        ("b", -0.2, "invalid b -0.2"),
        ("delta", -1.0, "invalid delta -1.0"),
    ],
)
def test_settings_reject_invalid_value(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BM25Settings(**{field: value})


def test_settings_error_lists_variants() -> None:
    with pytest.raises(ValueError) as error:
        BM25Settings(variant="bm25x")  # type: ignore[arg-type]

    for variant in BM25_VARIANTS:
        assert repr(variant) in str(error.value)


def test_settings_pass_tokenizer_settings() -> None:
    settings = BM25Settings(tokenizer=TokenizerSettings(stopwords=None, stemmer=None))
    index = BM25Index.build(make_passages(["the running man", "a walking woman"]), settings)

    assert index.query_tokens("the running") == ["the", "running"]
