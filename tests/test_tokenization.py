from __future__ import annotations

import pytest

from reranklab.tokenization import STOPWORD_LISTS, Tokenizer, TokenizerSettings


def test_tokenize_removes_english_stopwords() -> None:
    tokens = Tokenizer(TokenizerSettings(stemmer=None)).tokenize("The cat is on the mat")

    assert tokens == ["cat", "mat"]


def test_tokenize_keeps_stopwords_when_disabled() -> None:
    settings = TokenizerSettings(stopwords=None, stemmer=None)

    tokens = Tokenizer(settings).tokenize("The cat is on the mat")

    assert tokens == ["the", "cat", "is", "on", "the", "mat"]


def test_tokenize_uses_other_stopword_list() -> None:
    settings = TokenizerSettings(stopwords="de", stemmer=None)

    tokens = Tokenizer(settings).tokenize("Der Hund und die Katze")

    assert tokens == ["hund", "katze"]


def test_tokenize_stems_english_words() -> None:
    tokenizer = Tokenizer()

    assert tokenizer.tokenize("running") == ["run"]
    assert tokenizer.tokenize("Runs studies") == ["run", "studi"]


def test_tokenize_without_stemmer_keeps_words() -> None:
    tokens = Tokenizer(TokenizerSettings(stemmer=None)).tokenize("running studies")

    assert tokens == ["running", "studies"]


def test_tokenize_without_lowercase_keeps_case() -> None:
    settings = TokenizerSettings(lowercase=False, stemmer=None)

    tokens = Tokenizer(settings).tokenize("The BERT model")

    # "The" is still a stopword: the lists are lowercase and the check ignores case.
    assert tokens == ["BERT", "model"]


def test_tokenize_drops_one_character_words() -> None:
    tokens = Tokenizer(TokenizerSettings(stopwords=None, stemmer=None)).tokenize(
        "I don't see 5 x1 items"
    )

    assert tokens == ["don", "see", "x1", "items"]


def test_tokenize_empty_and_punctuation() -> None:
    tokenizer = Tokenizer()

    assert tokenizer.tokenize("") == []
    assert tokenizer.tokenize("!!! ... ???") == []
    assert tokenizer.tokenize("the of and") == []


def test_tokenize_chinese_bigrams() -> None:
    tokens = Tokenizer().tokenize("自然语言处理")

    assert tokens == ["自然", "然语", "语言", "言处", "处理"]


def test_tokenize_lone_cjk_character_is_unigram() -> None:
    tokens = Tokenizer().tokenize("猫 and 犬。鱼")

    assert tokens == ["猫", "犬", "鱼"]


def test_tokenize_japanese_bigrams() -> None:
    # The katakana middle dot separates the two names, so no bigram spans it.
    tokens = Tokenizer().tokenize("東京タワー ジョン・スミス")

    assert tokens == ["東京", "京タ", "タワ", "ワー", "ジョ", "ョン", "スミ", "ミス"]


def test_tokenize_hangul_bigrams() -> None:
    tokens = Tokenizer().tokenize("한국어 검색")

    assert tokens == ["한국", "국어", "검색"]


def test_tokenize_mixed_script() -> None:
    tokens = Tokenizer().tokenize("BERT模型很好 for ranking")

    assert tokens == ["bert", "模型", "型很", "很好", "rank"]


def test_tokenize_folds_full_width_letters() -> None:
    tokens = Tokenizer().tokenize("ＢＥＲＴ模型")

    assert tokens == ["bert", "模型"]


def test_tokenize_many_matches_tokenize() -> None:
    texts = ["Running shoes for runners", "BERT模型很好", "", "the of", "running again"]
    tokenizer = Tokenizer()

    batched = tokenizer.tokenize_many(texts)

    assert batched == [Tokenizer().tokenize(text) for text in texts]


def test_tokenize_many_accepts_generator() -> None:
    tokens = Tokenizer().tokenize_many(text for text in ["cats", "dogs"])

    assert tokens == [["cat"], ["dog"]]


def test_settings_reject_unknown_stopword_language() -> None:
    with pytest.raises(ValueError, match="unknown stopword language 'xx'") as error:
        TokenizerSettings(stopwords="xx")

    for code in STOPWORD_LISTS:
        assert code in str(error.value)


@pytest.mark.parametrize("code", ["zh", "ko"])
def test_settings_reject_cjk_stopword_list(code: str) -> None:
    with pytest.raises(ValueError, match="character bigrams"):
        TokenizerSettings(stopwords=code)


def test_settings_reject_unknown_stemmer() -> None:
    with pytest.raises(ValueError, match="unknown stemmer 'klingon'") as error:
        TokenizerSettings(stemmer="klingon")

    assert "english" in str(error.value)
    assert "german" in str(error.value)


def test_settings_accept_other_stemmer() -> None:
    settings = TokenizerSettings(stopwords=None, stemmer="german")

    tokens = Tokenizer(settings).tokenize("Häuser")

    assert tokens == ["haus"]
