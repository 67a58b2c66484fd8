"""Tests for reranklab.chunking."""

from __future__ import annotations

import pytest

from reranklab.chunking import (
    ChunkingSettings,
    count_words,
    split_document,
    split_documents,
)
from reranklab.documents import Document


def numbered_words(count: int) -> str:
    return " ".join(f"w{i}" for i in range(count))


def passage_texts(text: str, passage_words: int, overlap_words: int) -> list[str]:
    settings = ChunkingSettings(passage_words, overlap_words)
    return [p.text for p in split_document(Document("doc", text), settings)]


def test_settings_defaults():
    settings = ChunkingSettings()

    assert settings.passage_words == 100
    assert settings.overlap_words == 25
    assert settings.stride_words == 75


def test_windows_end_at_last_word():
    texts = passage_texts(numbered_words(10), passage_words=4, overlap_words=1)

    assert texts == ["w0 w1 w2 w3", "w3 w4 w5 w6", "w6 w7 w8 w9"]


def test_short_tail_window_emitted():
    texts = passage_texts(numbered_words(11), passage_words=4, overlap_words=1)

    assert texts == ["w0 w1 w2 w3", "w3 w4 w5 w6", "w6 w7 w8 w9", "w9 w10"]


def test_no_window_inside_previous():
    # With stride 2 the window after "w6 .. w9" would be "w8 w9", which adds nothing.
    texts = passage_texts(numbered_words(10), passage_words=4, overlap_words=2)

    assert texts == ["w0 w1 w2 w3", "w2 w3 w4 w5", "w4 w5 w6 w7", "w6 w7 w8 w9"]


def test_zero_overlap_partitions_words():
    texts = passage_texts(numbered_words(7), passage_words=3, overlap_words=0)

    assert texts == ["w0 w1 w2", "w3 w4 w5", "w6"]


def test_short_document_single_passage():
    texts = passage_texts(numbered_words(5), passage_words=160, overlap_words=40)

    assert texts == [numbered_words(5)]


def test_exact_document_length_single_passage():
    texts = passage_texts(numbered_words(4), passage_words=4, overlap_words=3)

    assert texts == ["w0 w1 w2 w3"]


def test_passage_slices_and_offsets():
    text = "  alpha  beta\n\ngamma,   delta\tepsilon  "
    settings = ChunkingSettings(passage_words=2, overlap_words=0)

    passages = split_document(Document("doc", text), settings)

    assert [p.text for p in passages] == ["alpha  beta", "gamma,   delta", "epsilon"]
    assert [p.start for p in passages] == [2, 15, 30]
    for passage in passages:
        assert text[passage.start : passage.start + len(passage.text)] == passage.text


def test_passage_ids_and_fields():
    document = Document("report.pdf", numbered_words(6), title="Report", source="x")
    settings = ChunkingSettings(passage_words=3, overlap_words=0)

    passages = split_document(document, settings)

    assert [p.passage_id for p in passages] == ["report.pdf#0", "report.pdf#1"]
    assert [p.index for p in passages] == [0, 1]
    assert {p.doc_id for p in passages} == {"report.pdf"}
    assert {p.title for p in passages} == {"Report"}


@pytest.mark.parametrize("text", ["", "   \n\t  ", "\u3000"])
def test_empty_document_no_passages(text):
    assert split_document(Document("empty", text)) == []


def test_cjk_text_split_into_passages():
    sentence = "東京は日本の首都です。"  # 10 CJK characters and one full stop
    text = sentence * 6
    settings = ChunkingSettings(passage_words=11, overlap_words=0)

    passages = split_document(Document("ja", text), settings)

    assert len(passages) == 6
    assert [p.text for p in passages] == [sentence] * 6
    assert [p.start for p in passages] == [i * len(sentence) for i in range(6)]


def test_cjk_overlap_counts_characters():
    settings = ChunkingSettings(passage_words=4, overlap_words=2)

    passages = split_document(Document("zh", "信息检索模型"), settings)

    assert [p.text for p in passages] == ["信息检索", "检索模型"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("one two  three\nfour", 4),
        ("東京は日本", 5),
        ("です。Hello world", 5),  # で, す, 。, Hello, world
        ("「かな」。", 4),  # 「, か, な, 」。
        ("한국어 검색", 5),
        ("𠀀𠀁 x", 3),  # Extension B ideographs outside the BMP
        ("model-v2 (BM25)", 2),
    ],
)
def test_count_words(text, expected):
    assert count_words(text) == expected


def test_split_documents_keeps_order():
    documents = (Document(f"d{i}", numbered_words(5)) for i in range(3))
    settings = ChunkingSettings(passage_words=3, overlap_words=1)

    passages = split_documents(documents, settings)

    assert [p.passage_id for p in passages] == [
        "d0#0", "d0#1", "d1#0", "d1#1", "d2#0", "d2#1",
    ]


@pytest.mark.parametrize("passage_words", [0, -5])
def test_settings_passage_words_invalid(passage_words):
    with pytest.raises(ValueError) as error:
        ChunkingSettings(passage_words=passage_words, overlap_words=0)

    assert "passage_words" in str(error.value)
    assert str(passage_words) in str(error.value)
    assert "at least 1" in str(error.value)


@pytest.mark.parametrize("overlap_words", [-1, 10, 11])
def test_settings_overlap_invalid(overlap_words):
    with pytest.raises(ValueError) as error:
        ChunkingSettings(passage_words=10, overlap_words=overlap_words)

    assert "overlap_words" in str(error.value)
    assert f"got {overlap_words}" in str(error.value)
    assert "from 0 to 9" in str(error.value)


@pytest.mark.parametrize("value", [1.5, "10", True])
def test_settings_non_int_rejected(value):
    with pytest.raises(TypeError, match="passage_words must be an int"):
        ChunkingSettings(passage_words=value, overlap_words=0)
