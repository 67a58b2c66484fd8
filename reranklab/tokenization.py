"""Split text into the tokens that BM25 indexes and searches.

Text in scripts that separate words with spaces becomes word tokens: runs of two or more
word characters, lowercased, with stopwords removed, then stemmed. Chinese and Japanese are
written without spaces, so runs of CJK characters (Han, Hiragana, Katakana and also Hangul)
become overlapping character bigrams instead, as Lucene's CJKAnalyzer does: "自然语言" gives
"自然", "然语" and "语言", and a lone CJK character stays a unigram. A bigram index needs no
dictionary and still matches every two-character word. Mixed text such as "BERT模型很好"
gives both kinds of token.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import Stemmer
from bm25s import stopwords as bm25s_stopwords

# The stopword lists that ship with bm25s, by language code.
STOPWORD_LISTS: dict[str, tuple[str, ...]] = {
    "da": bm25s_stopwords.STOPWORDS_DANISH,
    "de": bm25s_stopwords.STOPWORDS_GERMAN,
    "en": bm25s_stopwords.STOPWORDS_EN,
    "en_plus": bm25s_stopwords.STOPWORDS_EN_PLUS,
    "es": bm25s_stopwords.STOPWORDS_SPANISH,
    "fr": bm25s_stopwords.STOPWORDS_FRENCH,
    "it": bm25s_stopwords.STOPWORDS_ITALIAN,
    "nl": bm25s_stopwords.STOPWORDS_DUTCH,
    "no": bm25s_stopwords.STOPWORDS_NORWEGIAN,
    "pt": bm25s_stopwords.STOPWORDS_PORTUGUESE,
    "ru": bm25s_stopwords.STOPWORDS_RUSSIAN,
    "sv": bm25s_stopwords.STOPWORDS_SWEDISH,
    "tr": bm25s_stopwords.STOPWORDS_TURKISH,
}

# bm25s also ships Chinese and Korean lists. They contain only CJK words, and stopwords are
# never applied to CJK bigrams (a bigram often spans two words), so they would remove nothing.
_CJK_STOPWORD_CODES = ("zh", "ko")

# Unicode blocks whose characters are split into bigrams.
_CJK_CHARACTERS = (
    "\u1100-\u11ff"  # Hangul Jamo
    "\u3005\u3007"  # ideographic iteration mark 々 and number zero 〇
    "\u3041-\u309f"  # Hiragana
    "\u30a1-\u30fa\u30fc-\u30ff"  # Katakana, without the middle dot ・ that separates words
    "\u3131-\u318e"  # Hangul Compatibility Jamo
    "\u31f0-\u31ff"  # Katakana Phonetic Extensions
    "\u3400-\u4dbf"  # CJK Unified Ideographs Extension A
    "\u4e00-\u9fff"  # CJK Unified Ideographs
    "\ua960-\ua97f"  # Hangul Jamo Extended-A
    "\uac00-\ud7af"  # Hangul Syllables
    "\ud7b0-\ud7ff"  # Hangul Jamo Extended-B
    "\uf900-\ufaff"  # CJK Compatibility Ideographs
    "\U00020000-\U000323af"  # CJK Unified Ideographs Extensions B to H and supplements
)
_CJK_CHARACTER = re.compile(f"[{_CJK_CHARACTERS}]")

# Single-character words are dropped, as bm25s does by default, because "a", the "s" of
# "it's", the "t" of "don't" and lone digits carry little meaning and match most passages.
# bm25s's pattern is r"(?u)\b\w\w+\b". Without \b it matches the same runs, and \b cannot be
# used in mixed text, where "BERT模型" has no word boundary between "T" and "模" because CJK
# characters are word characters too.
# NOTE: a query for a one-character word such as "C", "R" or "5" therefore matches nothing.
_WORD = re.compile(r"\w\w+")
_WORD_OR_CJK_RUN = re.compile(rf"(?P<cjk>[{_CJK_CHARACTERS}]+)|[^\W{_CJK_CHARACTERS}]{{2,}}")


@dataclass(frozen=True)
class TokenizerSettings:
    """Options of `Tokenizer`, checked when the settings are created.

    Attributes:
        lowercase: lowercase word tokens before the stopword and stemmer steps.
        stopwords: the code of a stopword list in `STOPWORD_LISTS`, such as "en", or None to
            keep every word.
        stemmer: the name of a Snowball algorithm in `Stemmer.algorithms()` (PyStemmer),
            such as "english", or None to keep words unstemmed.

    Raises:
        ValueError: `stopwords` or `stemmer` is not a known name. The message lists the
            valid names.
    """

    lowercase: bool = True
    stopwords: str | None = "en"
    stemmer: str | None = "english"

    def __post_init__(self) -> None:
        if self.stopwords in _CJK_STOPWORD_CODES:
            raise ValueError(
                f"stopword list {self.stopwords!r} is not supported: Chinese, Japanese and "
                "Korean text is split into character bigrams, which are never removed as "
                "stopwords. Use stopwords=None, or one of: " + ", ".join(STOPWORD_LISTS)
            )
        if self.stopwords is not None and self.stopwords not in STOPWORD_LISTS:
            raise ValueError(
                f"unknown stopword language {self.stopwords!r}; use None or one of: "
                + ", ".join(STOPWORD_LISTS)
            )
        if self.stemmer is not None and self.stemmer not in Stemmer.algorithms():
            raise ValueError(
                f"unknown stemmer {self.stemmer!r}; use None or one of: "
                + ", ".join(Stemmer.algorithms())
            )


class Tokenizer:
    """Tokenizer for passages and queries. See the module docstring for the rules.

    The same settings must be used for the passages and for the queries that search them.
    Stems are cached by word, so repeated words are stemmed once. The cache grows with the
    vocabulary of everything tokenized. Stemmer calls are serialized by a lock, so threads
    may share one tokenizer.

    Args:
        settings: lowercasing, stopword list and stemmer. Defaults to lowercased English
            with bm25s's English stopwords and the Snowball "english" stemmer.
    """

    def __init__(self, settings: TokenizerSettings = TokenizerSettings()) -> None:
        self.settings = settings
        self._stopwords: frozenset[str] = frozenset()
        if settings.stopwords is not None:
            self._stopwords = frozenset(STOPWORD_LISTS[settings.stopwords])
        self._stemmer = Stemmer.Stemmer(settings.stemmer) if settings.stemmer else None
        # Word -> stem. CJK tokens map to themselves, so they never reach the stemmer.
        self._stems: dict[str, str] = {}
        # A PyStemmer Stemmer must not be called from two threads at once (PyStemmer 3.1
        # docstring of Stemmer.Stemmer).
        self._stemmer_lock = threading.Lock()

    def tokenize(self, text: str) -> list[str]:
        """Split one text into tokens, in the order they occur.

        Returns:
            The tokens. Empty when the text contains only stopwords, punctuation or
            one-character words.
        """
        return self.tokenize_many([text])[0]

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        """Split each text into tokens. Faster than `tokenize` in a loop, because the words
        of all texts are stemmed in one batch.

        Returns:
            One token list per text, in the order of `texts`.
        """
        token_lists = [self._split(text) for text in texts]
        if self._stemmer is None:
            return token_lists

        self._stem_unseen_words(token_lists)
        stems = self._stems
        return [[stems[token] for token in tokens] for tokens in token_lists]

    def _split(self, text: str) -> list[str]:
        """Split a text into word tokens and CJK bigrams, without stemming."""
        # NFKC folds full-width letters and digits ("ＢＥＲＴ２") and half-width katakana, both
        # common in CJK text, as Lucene's CJKWidthFilter does. It also splits ligatures ("ﬁ").
        text = unicodedata.normalize("NFKC", text)
        if self.settings.lowercase:
            text = text.lower()

        if not _CJK_CHARACTER.search(text):
            return self._remove_stopwords(_WORD.findall(text))

        tokens: list[str] = []
        for match in _WORD_OR_CJK_RUN.finditer(text):
            if match.lastgroup == "cjk":
                bigrams = _cjk_bigrams(match.group())
                tokens.extend(bigrams)
                if self._stemmer is not None:
                    self._stems.update(zip(bigrams, bigrams))
            else:
                tokens.extend(self._remove_stopwords([match.group()]))
        return tokens

    def _remove_stopwords(self, words: list[str]) -> list[str]:
        stopwords = self._stopwords
        if not stopwords:
            return words
        if self.settings.lowercase:
            return [word for word in words if word not in stopwords]
        # The lists are lowercase, and "The" at the start of a sentence is still a stopword.
        return [word for word in words if word.lower() not in stopwords]

    def _stem_unseen_words(self, token_lists: list[list[str]]) -> None:
        """Add the stems of the words that are not in the cache yet."""
        stems = self._stems
        unseen = {token for tokens in token_lists for token in tokens if token not in stems}
        if not unseen:
            return

        with self._stemmer_lock:
            words = [word for word in unseen if word not in stems]
            stems.update(zip(words, self._stemmer.stemWords(words)))


def _cjk_bigrams(run: str) -> list[str]:
    """Return the overlapping bigrams of a run of CJK characters, or the run itself when
    it is one character long."""
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]
