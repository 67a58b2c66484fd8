"""Tests for reranklab.loading, on real files written to tmp_path."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader, PdfWriter
from reportlab.pdfgen import canvas

from reranklab.errors import DocumentLoadError
from reranklab.loading import (
    MAX_LISTED_PROBLEMS,
    SUPPORTED_EXTENSIONS,
    CsvColumns,
    guess_csv_columns,
    load_file,
    load_path,
    read_csv_columns,
)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def make_pdf(path: Path, pages: list[str], title: str | None = None) -> Path:
    """Write a PDF with one line of text per page. An empty string draws a rectangle."""
    pdf = canvas.Canvas(str(path))
    if title is not None:
        pdf.setTitle(title)
    for page_text in pages:
        if page_text:
            pdf.drawString(72, 720, page_text)
        else:
            pdf.rect(100, 100, 200, 200, fill=1)
        pdf.showPage()
    pdf.save()
    return path


def encrypt_pdf(source: Path, target: Path, user_password: str) -> Path:
    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password, owner_password="owner-secret")
    with target.open("wb") as stream:
        writer.write(stream)
    return target


def jsonl_bytes(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


# ---------------------------------------------------------------------------
# Dispatch, size and empty files


def test_unknown_extension_lists_supported(tmp_path):
    path = write(tmp_path / "sheet.xlsx", b"PK\x03\x04 not really")

    with pytest.raises(DocumentLoadError) as error:
        load_path(path)

    message = str(error.value)
    assert "sheet.xlsx" in message
    assert "'.xlsx'" in message
    for extension in SUPPORTED_EXTENSIONS:
        assert extension in message


def test_missing_extension_rejected():
    with pytest.raises(DocumentLoadError, match="no file extension"):
        load_file("README", b"hello")


@pytest.mark.parametrize("name", ["empty.txt", "empty.pdf", "empty.csv", "empty.jsonl"])
def test_empty_file_rejected(tmp_path, name):
    path = write(tmp_path / name, b"")

    with pytest.raises(DocumentLoadError) as error:
        load_path(path)

    assert error.value.source == name
    assert "is empty" in error.value.reason


def test_extension_case_insensitive():
    loaded = load_file("NOTES.TXT", b"upper case extension")

    assert loaded.documents[0].text == "upper case extension"


def test_max_bytes_rejects_large_file(tmp_path):
    path = write(tmp_path / "big.txt", b"word " * 1000)

    with pytest.raises(DocumentLoadError) as error:
        load_path(path, max_bytes=1024)

    assert "big.txt" in str(error.value)
    assert "1.0 KiB" in str(error.value)


def test_max_bytes_allows_file_at_limit():
    loaded = load_file("ok.txt", b"x" * 100, max_bytes=100)

    assert loaded.documents[0].text == "x" * 100


def test_load_path_missing_file_names_path(tmp_path):
    path = tmp_path / "nowhere" / "missing.txt"

    with pytest.raises(DocumentLoadError) as error:
        load_path(path)

    assert str(path) in str(error.value)


def test_load_path_uses_base_name(tmp_path):
    path = write(tmp_path / "notes.txt", b"some notes")

    loaded = load_path(path)

    assert loaded.source == "notes.txt"
    assert loaded.documents[0].doc_id == "notes.txt"
    assert loaded.documents[0].source == "notes.txt"


# ---------------------------------------------------------------------------
# Plain text and Markdown


def test_txt_utf8_document():
    loaded = load_file("notes.txt", "Crème brûlée, 東京.\n".encode())

    document = loaded.documents[0]
    assert len(loaded.documents) == 1
    assert document.doc_id == "notes.txt"
    assert document.title == "notes"
    assert document.text == "Crème brûlée, 東京."
    assert loaded.warnings == []


def test_txt_utf8_bom_removed():
    loaded = load_file("bom.txt", b"\xef\xbb\xbfhello")

    assert loaded.documents[0].text == "hello"
    assert loaded.warnings == []


def test_txt_utf16_bom_decoded(tmp_path):
    path = write(tmp_path / "wide.txt", "Grüße aus Köln".encode("utf-16"))

    loaded = load_path(path)

    assert loaded.documents[0].text == "Grüße aus Köln"
    assert loaded.warnings == []


def test_txt_latin1_decoded_with_warning(tmp_path):
    path = write(tmp_path / "legacy.txt", "café – naïve €5".encode("cp1252"))

    loaded = load_path(path)

    assert loaded.documents[0].text == "café – naïve €5"
    assert len(loaded.warnings) == 1
    assert "Windows-1252" in loaded.warnings[0]


def test_txt_binary_rejected(tmp_path):
    png_header = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00"
    path = write(tmp_path / "image.txt", png_header * 20)

    with pytest.raises(DocumentLoadError) as error:
        load_path(path)

    assert error.value.source == "image.txt"
    assert "binary" in error.value.reason


def test_txt_control_bytes_rejected():
    data = bytes(range(1, 9)) * 50 + b"some text"

    with pytest.raises(DocumentLoadError, match="binary"):
        load_file("controls.txt", data)


def test_txt_whitespace_normalized():
    loaded = load_file("spaces.txt", b"  a  b   \r\n\r\n\r\n\r\n\tc \n")

    assert loaded.documents[0].text == "a  b\n\n\tc"


def test_txt_whitespace_only_rejected():
    with pytest.raises(DocumentLoadError, match="contains no text"):
        load_file("blank.txt", b" \n\n\t \n")


def test_md_title_from_first_heading():
    data = b"# Release notes\n\nVersion 2 adds search.\n\n## Details\n\nMore."

    document = load_file("notes.md", data).documents[0]

    assert document.title == "Release notes"
    assert document.text == "Version 2 adds search.\n\n## Details\n\nMore."


def test_md_heading_in_code_fence_ignored():
    data = b"Intro text.\n\n```\n# not a heading\n```\n\n## Real heading\n\nBody."

    document = load_file("guide.md", data).documents[0]

    assert document.title == "Real heading"
    assert document.text.startswith("Intro text.")
    assert "## Real heading" in document.text


def test_md_without_heading_uses_stem():
    document = load_file("plain.md", b"Just a paragraph.").documents[0]

    assert document.title == "plain"


# ---------------------------------------------------------------------------
# PDF


def test_pdf_pages_joined(tmp_path):
    pages = ["First page text", "Second page text"]
    path = make_pdf(tmp_path / "report.pdf", pages, title="Quarterly report")

    loaded = load_path(path)

    document = loaded.documents[0]
    assert document.text == "First page text\n\nSecond page text"
    assert document.title == "Quarterly report"
    assert document.doc_id == "report.pdf"


def test_pdf_placeholder_title_uses_stem(tmp_path):
    # ReportLab writes the title "untitled" when none is set.
    path = make_pdf(tmp_path / "memo.pdf", ["Memo body"])

    document = load_path(path).documents[0]

    assert document.title == "memo"


def test_pdf_encrypted_rejected(tmp_path):
    plain = make_pdf(tmp_path / "plain.pdf", ["Secret text"])
    path = encrypt_pdf(plain, tmp_path / "locked.pdf", user_password="secret")

    with pytest.raises(DocumentLoadError) as error:
        load_path(path)

    assert error.value.source == "locked.pdf"
    assert "encrypted; remove the password" in error.value.reason


def test_pdf_empty_user_password_opens(tmp_path):
    plain = make_pdf(tmp_path / "plain.pdf", ["Readable without a password"])
    path = encrypt_pdf(plain, tmp_path / "owner_only.pdf", user_password="")

    document = load_path(path).documents[0]

    assert document.text == "Readable without a password"


def test_pdf_without_text_rejected(tmp_path):
    path = make_pdf(tmp_path / "scan.pdf", [""])

    with pytest.raises(DocumentLoadError) as error:
        load_path(path)

    assert "no extractable text" in error.value.reason
    assert "OCR" in error.value.reason


def test_pdf_blank_page_skipped(tmp_path):
    path = make_pdf(tmp_path / "mixed.pdf", ["Page one", "", "Page three"])

    document = load_path(path).documents[0]

    assert document.text == "Page one\n\nPage three"


@pytest.mark.parametrize("data", [b"this is not a PDF at all", b"%PDF-1.4\n%%EOF"])
def test_pdf_corrupt_rejected(tmp_path, data):
    path = write(tmp_path / "broken.pdf", data)

    with pytest.raises(DocumentLoadError) as error:
        load_path(path)

    assert error.value.source == "broken.pdf"
    assert "not a readable PDF" in error.value.reason


def test_pdf_truncated_rejected(tmp_path):
    full = make_pdf(tmp_path / "full.pdf", ["Some text"]).read_bytes()
    path = write(tmp_path / "cut.pdf", full[:200])

    with pytest.raises(DocumentLoadError, match="cut.pdf"):
        load_path(path)


# ---------------------------------------------------------------------------
# Word


def test_docx_paragraphs_and_tables(tmp_path):
    word = docx.Document()
    word.core_properties.title = "Team handbook"
    word.add_paragraph("First paragraph.")
    table = word.add_table(rows=2, cols=3)
    table.cell(0, 0).text = "Name"
    table.cell(0, 1).text = "Role"
    table.cell(0, 2).text = "Office"
    table.cell(1, 0).text = "Ada"
    merged = table.cell(1, 1).merge(table.cell(1, 2))
    merged.text = "Engineer in Berlin"
    word.add_paragraph("Last paragraph.")
    path = tmp_path / "handbook.docx"
    word.save(str(path))

    document = load_path(path).documents[0]

    assert document.title == "Team handbook"
    assert document.text == (
        "First paragraph.\n"
        "Name | Role | Office\n"
        "Ada | Engineer in Berlin\n"
        "Last paragraph."
    )


def test_docx_without_title_uses_stem(tmp_path):
    word = docx.Document()
    word.add_paragraph("Body only.")
    path = tmp_path / "letter.docx"
    word.save(str(path))

    document = load_path(path).documents[0]

    assert document.title == "letter"


def test_docx_text_file_rejected(tmp_path):
    path = write(tmp_path / "fake.docx", b"plain text pretending to be Word")

    with pytest.raises(DocumentLoadError) as error:
        load_path(path)

    assert error.value.source == "fake.docx"
    assert "not a valid Word .docx file" in error.value.reason


def test_docx_other_zip_rejected(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a Word document")
    path = write(tmp_path / "archive.docx", buffer.getvalue())

    with pytest.raises(DocumentLoadError, match="not a valid Word .docx file"):
        load_path(path)


def test_docx_empty_document_rejected(tmp_path):
    path = tmp_path / "blank.docx"
    docx.Document().save(str(path))

    with pytest.raises(DocumentLoadError, match="contains no text"):
        load_path(path)


# ---------------------------------------------------------------------------
# HTML


HTML_PAGE = b"""<!DOCTYPE html>
<html>
<head>
  <title>  Search   basics </title>
  <style>body { color: hidden-style-rule; }</style>
  <script>var hiddenScript = 1;</script>
</head>
<body>
  <!-- hidden comment -->
  <h1>BM25</h1>
  <p>BM25 ranks documents by term frequency.</p>


  <noscript>hidden noscript text</noscript>
  <template><p>hidden template text</p></template>
  <p>Rerankers reorder the candidates.</p>
</body>
</html>
"""


def test_html_visible_text_only(tmp_path):
    path = write(tmp_path / "page.html", HTML_PAGE)

    document = load_path(path).documents[0]

    hidden_texts = [
        "hidden-style-rule",
        "hiddenScript",
        "hidden comment",
        "hidden noscript",
        "hidden template",
    ]
    for hidden in hidden_texts:
        assert hidden not in document.text
    assert "BM25 ranks documents by term frequency." in document.text
    assert "Rerankers reorder the candidates." in document.text
    assert "\n\n\n" not in document.text


def test_html_title_from_title_tag(tmp_path):
    path = write(tmp_path / "page.html", HTML_PAGE)

    document = load_path(path).documents[0]

    assert document.title == "Search basics"
    assert "Search" not in document.text


def test_htm_without_title_uses_stem(tmp_path):
    path = write(tmp_path / "About.HTM", b"<p>About us</p>")

    document = load_path(path).documents[0]

    assert document.title == "About"
    assert document.text == "About us"


def test_html_meta_charset_decoded(tmp_path):
    page = '<meta charset="windows-1252"><p>Café crème</p>'.encode("cp1252")
    path = write(tmp_path / "legacy.html", page)

    document = load_path(path).documents[0]

    assert document.text == "Café crème"


# ---------------------------------------------------------------------------
# CSV


def test_csv_rows_become_documents(tmp_path):
    data = (
        "id,title,text\n"
        "a,First,Alpha text\n"
        'b,Second,"Beta, with a comma\nand a line break"\n'
    ).encode()
    path = write(tmp_path / "items.csv", data)

    loaded = load_path(path, csv_columns=CsvColumns("text", "title"))

    assert [d.doc_id for d in loaded.documents] == ["items.csv:1", "items.csv:2"]
    assert [d.title for d in loaded.documents] == ["First", "Second"]
    assert loaded.documents[1].text == "Beta, with a comma\nand a line break"
    assert loaded.documents[0].source == "items.csv"
    assert loaded.warnings == []


def test_csv_ragged_rows_kept_with_warning(tmp_path):
    data = (
        "title,text,lang\n"
        "One,First text,en\n"
        "Two,Second text\n"  # one field short, text still present
        "Three,Third text,en,extra\n"  # one field too many
        "Four\n"  # text missing
        "Five,Fifth text,en\n"
    ).encode()
    path = write(tmp_path / "ragged.csv", data)

    loaded = load_path(path, csv_columns=CsvColumns("text", "title"))

    assert [d.doc_id for d in loaded.documents] == [
        "ragged.csv:1", "ragged.csv:2", "ragged.csv:3", "ragged.csv:5",
    ]
    assert loaded.documents[2].text == "Third text"
    ragged_warning = next(w for w in loaded.warnings if "field count" in w)
    assert ragged_warning.startswith("rows 2, 3, 4:")
    empty_warning = next(w for w in loaded.warnings if "is empty" in w)
    assert empty_warning.startswith("row 4:")


def test_csv_missing_column_lists_columns(tmp_path):
    path = write(tmp_path / "people.csv", b"name,bio\nAda,Mathematician\n")

    with pytest.raises(DocumentLoadError) as error:
        load_path(path, csv_columns=CsvColumns("text"))

    assert error.value.source == "people.csv"
    assert "'text'" in error.value.reason
    assert "'name', 'bio'" in error.value.reason


def test_csv_missing_title_column_rejected():
    with pytest.raises(DocumentLoadError, match="'headline'"):
        load_file("a.csv", b"text\nhello\n", csv_columns=CsvColumns("text", "headline"))


def test_csv_semicolon_header_hint():
    with pytest.raises(DocumentLoadError, match="comma-separated"):
        load_file("euro.csv", b"title;text\nA;B\n", csv_columns=CsvColumns("text"))


def test_csv_guessed_columns_warned():
    data = b"Heading,Body,Extra\nGreeting,Hello there,x\n"

    loaded = load_file("guess.csv", data)

    document = loaded.documents[0]
    assert document.text == "Hello there"
    assert document.title == "Greeting"
    assert loaded.warnings == [
        "no columns were chosen, so the text was read from column 'Body' and the "
        "titles from column 'Heading'"
    ]


def test_csv_empty_text_rows_skipped():
    data = b"title,text\nA,\nB,kept\nC,   \n"

    loaded = load_file("gaps.csv", data, csv_columns=CsvColumns("text", "title"))

    assert [d.doc_id for d in loaded.documents] == ["gaps.csv:2"]
    assert loaded.warnings == ["rows 1, 3: column 'text' is empty; skipped"]


def test_csv_header_only_rejected():
    with pytest.raises(DocumentLoadError, match="no rows with text"):
        load_file("header.csv", b"title,text\n", csv_columns=CsvColumns("text"))


def test_csv_latin1_decoded_with_warning():
    data = "title,text\nCafé,Crème brûlée\n".encode("cp1252")

    loaded = load_file("menu.csv", data, csv_columns=CsvColumns("text", "title"))

    assert loaded.documents[0].title == "Café"
    assert any("Windows-1252" in w for w in loaded.warnings)


def test_csv_long_field_read():
    long_text = "word " * 40_000  # 200,000 characters, over the csv module's default
    data = f"text\n\"{long_text}\"\n".encode()

    loaded = load_file("long.csv", data, csv_columns=CsvColumns("text"))

    assert loaded.documents[0].text == long_text.strip()


def test_read_csv_columns_strips_bom_and_spaces():
    data = b"\xef\xbb\xbfid, title ,text\n1,a,b\n"

    assert read_csv_columns("cols.csv", data) == ["id", "title", "text"]


def test_read_csv_columns_empty_rejected():
    with pytest.raises(DocumentLoadError, match="is empty"):
        read_csv_columns("none.csv", b"")


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (["id", "Title", "TEXT"], CsvColumns("TEXT", "Title")),
        (["abstract", "body", "name"], CsvColumns("body", "name")),
        (["content"], CsvColumns("content", None)),
        (["title", "description"], CsvColumns("description", "title")),
        (["question", "answer"], CsvColumns("question", None)),
        (["title"], CsvColumns("title", None)),
    ],
)
def test_guess_csv_columns(columns, expected):
    assert guess_csv_columns(columns) == expected


def test_guess_csv_columns_empty_rejected():
    with pytest.raises(DocumentLoadError, match="no columns"):
        guess_csv_columns([])


# ---------------------------------------------------------------------------
# JSONL (BEIR corpus)


BEIR_LINES = [
    json.dumps({"_id": "d1", "title": "First", "text": "Alpha text"}),
    '{"_id": "d2", "text": ',  # line 2: invalid JSON
    json.dumps({"_id": "d3", "title": "Third", "text": "Gamma text"}),
    "",  # line 4: blank, ignored
    json.dumps({"title": "No id", "text": "orphan"}),  # line 5
    json.dumps({"_id": "d6", "title": "No text"}),  # line 6
    json.dumps(["not", "an", "object"]),  # line 7
    json.dumps({"id": 8, "text": "Integer id under 'id'"}),
    json.dumps({"doc_id": "d9", "text": "Id under 'doc_id'", "title": None}),
    json.dumps({"_id": "d1", "text": "Duplicate of line 1"}),  # line 10
]


def test_jsonl_good_lines_kept(tmp_path):
    path = write(tmp_path / "corpus.jsonl", jsonl_bytes(BEIR_LINES))

    loaded = load_path(path)

    assert [d.doc_id for d in loaded.documents] == ["d1", "d3", "8", "d9"]
    assert loaded.documents[0].title == "First"
    assert loaded.documents[0].text == "Alpha text"
    assert loaded.documents[3].title == ""
    assert loaded.documents[0].source == "corpus.jsonl"


def test_jsonl_bad_lines_reported(tmp_path):
    path = write(tmp_path / "corpus.jsonl", jsonl_bytes(BEIR_LINES))

    warnings = load_path(path).warnings

    assert len(warnings) == 5
    assert warnings[0].startswith("line 2: invalid JSON")
    assert warnings[1] == "line 5: missing '_id'; skipped"
    assert warnings[2] == "line 6: missing 'text'; skipped"
    assert warnings[3] == "line 7: expected a JSON object, found an array; skipped"
    assert warnings[4] == (
        "line 10: duplicate _id 'd1', first seen on line 1; skipped"
    )


def test_jsonl_gz_read(tmp_path):
    path = write(tmp_path / "corpus.jsonl.gz", gzip.compress(jsonl_bytes(BEIR_LINES)))

    loaded = load_path(path)

    assert [d.doc_id for d in loaded.documents] == ["d1", "d3", "8", "d9"]
    assert loaded.warnings[0].startswith("line 2: invalid JSON")


def test_jsonl_gz_extension_case_insensitive():
    data = gzip.compress(jsonl_bytes(BEIR_LINES[:1]))

    loaded = load_file("CORPUS.JSONL.GZ", data)

    assert loaded.documents[0].doc_id == "d1"


def test_jsonl_gz_corrupt_rejected(tmp_path):
    path = write(tmp_path / "corpus.jsonl.gz", jsonl_bytes(BEIR_LINES))

    with pytest.raises(DocumentLoadError) as error:
        load_path(path)

    assert error.value.source == "corpus.jsonl.gz"
    assert "not a valid gzip file" in error.value.reason


def test_jsonl_gz_truncated_rejected():
    data = gzip.compress(jsonl_bytes(BEIR_LINES * 50))

    with pytest.raises(DocumentLoadError, match="not a valid gzip file"):
        load_file("cut.jsonl.gz", data[: len(data) // 2])


def test_jsonl_gz_decompressed_size_limited():
    data = gzip.compress(jsonl_bytes(BEIR_LINES * 100))

    with pytest.raises(DocumentLoadError, match="decompresses to more than"):
        load_file("bomb.jsonl.gz", data, max_bytes=len(data) + 10)


def test_jsonl_warnings_capped():
    extra = 5
    lines = [json.dumps({"_id": "ok", "text": "kept"})]
    lines += ["{broken"] * (MAX_LISTED_PROBLEMS + extra)

    loaded = load_file("many.jsonl", jsonl_bytes(lines))

    assert len(loaded.documents) == 1
    assert len(loaded.warnings) == MAX_LISTED_PROBLEMS + 1
    assert loaded.warnings[-1] == f"... and {extra} more lines skipped"


def test_jsonl_no_valid_line_rejected():
    lines = ["{broken", json.dumps({"_id": "x"})]

    with pytest.raises(DocumentLoadError) as error:
        load_file("bad.jsonl", jsonl_bytes(lines))

    assert "no valid line" in error.value.reason
    assert "line 1: invalid JSON" in error.value.reason


def test_jsonl_non_utf8_line_decoded_with_warning():
    good = json.dumps({"_id": "a", "text": "plain"}).encode()
    legacy = '{"_id": "b", "text": "café"}'.encode("cp1252")

    loaded = load_file("mixed.jsonl", good + b"\n" + legacy + b"\n")

    assert loaded.documents[1].text == "café"
    assert loaded.warnings[0].startswith("line 2: not valid UTF-8")


def test_jsonl_utf8_bom_accepted():
    data = b"\xef\xbb\xbf" + jsonl_bytes([json.dumps({"_id": "a", "text": "t"})])

    loaded = load_file("bom.jsonl", data)

    assert loaded.documents[0].doc_id == "a"
