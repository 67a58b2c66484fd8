from __future__ import annotations

from reranklab.highlight import match_spans, snippet_window
from reranklab.tokenization import Tokenizer, TokenizerSettings


def test_match_spans_follow_stemming():
    tokenizer = Tokenizer()
    text = "The runner was running; runs are good."
    spans = match_spans(text, tokenizer.tokenize("run"), tokenizer)
    assert [text[start:end] for start, end in spans] == ["running", "runs"]


def test_match_spans_without_stemming():
    tokenizer = Tokenizer(TokenizerSettings(stemmer=None))
    text = "running runs run"
    spans = match_spans(text, tokenizer.tokenize("run"), tokenizer)
    assert [text[start:end] for start, end in spans] == ["run"]


def test_match_spans_cjk_bigrams():
    tokenizer = Tokenizer()
    text = "机器学习模型很好"
    spans = match_spans(text, tokenizer.tokenize("学习"), tokenizer)
    assert [text[start:end] for start, end in spans] == ["学习"]


def test_match_spans_merge_overlaps():
    tokenizer = Tokenizer()
    text = "机器学习"
    spans = match_spans(text, tokenizer.tokenize("机器学习"), tokenizer)
    assert spans == [(0, 4)]


def test_snippet_starts_at_word_boundary():
    text = "PURPOSEOFREVIEW" * 3 + " cytokines " + "tail " * 100
    match = text.index("cytokines")
    start, end = snippet_window(text, [(match, match + 9)], max_chars=120)
    assert start == 0
    assert end <= 120


def test_snippet_moves_back_to_word_start():
    text = "filler " * 40 + "cytokines " + "tail " * 100
    match = text.index("cytokines")
    start, _ = snippet_window(text, [(match, match + 9)], max_chars=120)
    assert text[start - 1] == " "
    assert start <= match


def test_snippet_of_short_text_is_whole():
    assert snippet_window("short text", [], max_chars=120) == (0, 10)
