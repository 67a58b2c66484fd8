"""HTML, read with BeautifulSoup: one document per file."""

from __future__ import annotations

from bs4 import BeautifulSoup

from reranklab.loading.common import LoadedFile, _single_document
from reranklab.loading.encoding import _reject_binary

_HTML_HIDDEN_TAGS = ("script", "style", "noscript", "template", "title")


def _load_html(name: str, data: bytes) -> LoadedFile:
    _reject_binary(name, data)
    # Given bytes, BeautifulSoup detects the encoding from a byte order mark or a
    # <meta charset>, or guesses it.
    soup = BeautifulSoup(data, "html.parser")
    title = soup.title.get_text(" ") if soup.title is not None else ""
    for tag in soup(_HTML_HIDDEN_TAGS):
        tag.decompose()

    # NOTE: the "\n" separator also splits inline elements, so "<b>bold</b>, text"
    # reads as "bold\n, text". Words stay intact.
    lines = [line.strip() for line in soup.get_text("\n").splitlines()]
    return _single_document(name, "\n".join(lines), title)
