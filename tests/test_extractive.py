from __future__ import annotations

from reranklab.answers import Citation, number_passages, parse_citations
from reranklab.documents import Passage
from reranklab.extractive import extractive_answer, split_sentences

PASSAGES = [
    Passage("a#0", "a", "Scurvy is a disease. It is caused by a lack of vitamin C. Sailors suffered from it."),
    Passage("b#0", "b", "Citrus fruit contains vitamin C. Oranges and lemons were carried on ships."),
    Passage("c#0", "c", "Bread is baked in an oven."),
]


def test_split_sentences_latin_and_cjk():
    assert split_sentences("One. Two! Three?") == ["One.", "Two!", "Three?"]
    assert split_sentences("天气很好。我们去公园。") == ["天气很好。", "我们去公园。"]


def test_extractive_picks_query_sentences():
    answer = extractive_answer("lack of vitamin C", PASSAGES, max_sentences=2)
    assert answer.extractive
    assert answer.model == "extractive"
    assert answer.text.startswith("It is caused by a lack of vitamin C. [1]")
    assert answer.text.endswith("Citrus fruit contains vitamin C. [2]")
    assert answer.citations == [Citation(1, "a", "a#0"), Citation(2, "b", "b#0")]


def test_extractive_without_matches_cites_nothing():
    answer = extractive_answer("quantum chromodynamics", PASSAGES)
    assert answer.citations == []
    assert "no sentence" in answer.text


def test_parse_citations_forms_and_range():
    text = "Yes [2]. Also [1, 3] and [2][9] and [0]."
    citations = parse_citations(text, PASSAGES)
    assert [c.number for c in citations] == [2, 1, 3]


def test_number_passages_block():
    block = number_passages(PASSAGES[:2])
    assert block.startswith("[1] Scurvy is a disease.")
    assert "\n\n[2] Citrus fruit" in block


def test_answer_json_shape():
    document = extractive_answer("vitamin C", PASSAGES).to_json()
    assert set(document) == {"answer", "citations", "model", "finish_reason"}
    assert set(document["citations"][0]) == {"number", "doc_id", "passage_id"}


def test_extractive_repeated_sentence_cited_once():
    overlapping = [
        Passage("v#0", "v", "Scurvy is caused by a lack of vitamin C. Sailors got it.", index=0),
        Passage("w#0", "w", "Scurvy is caused by a lack of vitamin  C. Limes prevent scurvy.", index=0),
    ]

    answer = extractive_answer("what causes scurvy", overlapping, max_sentences=3)

    assert answer.text.count("caused by a lack of vitamin") == 1
    assert "Limes prevent scurvy. [2]" in answer.text


def test_extractive_skips_cut_sentences():
    second_window = Passage(
        "d#1", "d", "of vitamin C in the diet. Scurvy heals within weeks once vitamin C is eaten. Sailors on long",
        index=1,
    )

    answer = extractive_answer("scurvy vitamin C", [second_window])

    assert answer.text == "Scurvy heals within weeks once vitamin C is eaten. [1]"


def test_extractive_keeps_only_piece():
    fragment = Passage("d#2", "d", "scurvy and vitamin C deficiency in sailors on long", index=2)

    answer = extractive_answer("scurvy", [fragment])

    assert answer.text == "scurvy and vitamin C deficiency in sailors on long [1]"
