"""Tests of BEIR dataset folders and query files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from reranklab.datasets import load_beir, read_queries
from reranklab.errors import DocumentLoadError
from reranklab.loading import load_file

SCIFACT = Path("/work/shared/datasets/scifact")

CORPUS = [
    {"_id": "d1", "title": "Cats", "text": "Cats sleep most of the day."},
    {"_id": "d2", "title": "Dogs", "text": "Dogs need a walk every day."},
    {"_id": "d3", "title": "", "text": "Fish swim in schools."},
]
QUERIES = [
    {"_id": "1", "text": "how long do cats sleep", "metadata": {}},
    {"_id": "2", "text": "do dogs need walks"},
    {"_id": "3", "text": "unjudged query"},
]


def _jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def _beir_folder(
    folder: Path,
    *,
    gzip_corpus: bool = False,
    splits: dict[str, str] | None = None,
    queries: list[dict] = QUERIES,
) -> Path:
    """Write a small BEIR folder: corpus, queries and one qrels file per split."""
    folder.mkdir(parents=True, exist_ok=True)
    corpus = _jsonl(CORPUS).encode("utf-8")
    if gzip_corpus:
        (folder / "corpus.jsonl.gz").write_bytes(gzip.compress(corpus))
    else:
        (folder / "corpus.jsonl").write_bytes(corpus)
    (folder / "queries.jsonl").write_text(_jsonl(queries), encoding="utf-8")
    if splits is None:
        splits = {"test": "query-id\tcorpus-id\tscore\n1\td1\t1\n2\td2\t2\n2\td3\t0\n"}
    (folder / "qrels").mkdir(exist_ok=True)
    for split, text in splits.items():
        (folder / "qrels" / f"{split}.tsv").write_text(text, encoding="utf-8")
    return folder


# --------------------------------------------------------------------------- queries


def test_queries_jsonl():
    queries, warnings = read_queries(_jsonl(QUERIES), "queries.jsonl")

    assert queries == {
        "1": "how long do cats sleep",
        "2": "do dogs need walks",
        "3": "unjudged query",
    }
    assert warnings == []


def test_queries_jsonl_integer_ids():
    queries, _ = read_queries('{"_id": 7, "text": "seven"}\n', "queries.jsonl")

    assert queries == {"7": "seven"}


def test_queries_jsonl_broken_lines_reported():
    text = (
        '{"_id": "1", "text": "first"}\n'  # 1 good
        "[1, 2]\n"  # 2 not an object
        '{"text": "no id"}\n'  # 3 missing id
        '{"_id": " ", "text": "blank id"}\n'  # 4 blank id
        '{"_id": "5"}\n'  # 5 missing text
        '{"_id": "6", "text": 6}\n'  # 6 text not a string
        '{"_id": "7", "text": "   "}\n'  # 7 blank text
        "{not json\n"  # 8 invalid JSON
        '{"_id": "1", "text": "again"}\n'  # 9 duplicate id: first kept
        '{"_id": "10", "text": "tenth"}\n'  # 10 good
    )

    queries, warnings = read_queries(text, "queries.jsonl")

    assert queries == {"1": "first", "10": "tenth"}
    assert warnings == [
        "queries.jsonl line 2: expected a JSON object, found an array; skipped",
        "queries.jsonl line 3: missing '_id'; skipped",
        "queries.jsonl line 4: blank '_id'; skipped",
        "queries.jsonl line 5: missing 'text'; skipped",
        "queries.jsonl line 6: 'text' must be a string, found a number; skipped",
        "queries.jsonl line 7: blank 'text'; skipped",
        "queries.jsonl line 8: invalid JSON (Expecting property name enclosed in double "
        "quotes at column 2); skipped",
        "queries.jsonl line 9: duplicate query id '1', first seen on line 1; skipped",
    ]


def test_queries_tsv_with_header():
    text = "query_id\ttext\nq1\twhat is bm25\nq2\t  rerankers \t explained \n"

    queries, warnings = read_queries(text, "queries.tsv")

    assert queries == {"q1": "what is bm25", "q2": "rerankers \t explained"}
    assert warnings == []


def test_queries_tsv_broken_lines_reported():
    text = "q1\tfirst\nno tab here\n\tno id\nq4\t \nq5\tfifth\n"

    queries, warnings = read_queries(text, "queries.tsv")

    assert queries == {"q1": "first", "q5": "fifth"}
    assert warnings == [
        "queries.tsv line 2: expected 'query_id<TAB>text', found no tab; skipped",
        "queries.tsv line 3: blank query id; skipped",
        "queries.tsv line 4: blank text; skipped",
    ]


def test_queries_bytes_with_bom():
    data = b"\xef\xbb\xbf" + _jsonl(QUERIES[:1]).encode("utf-8")

    queries, warnings = read_queries(data, "queries.jsonl")

    assert queries == {"1": "how long do cats sleep"}
    assert warnings == []


def test_queries_latin1_bytes_warned():
    queries, warnings = read_queries(b"q1\tcaf\xe9 au lait\n", "queries.tsv")

    assert queries == {"q1": "café au lait"}
    assert len(warnings) == 1
    assert "not valid UTF-8" in warnings[0]


def test_queries_problem_list_capped():
    text = '{"_id": "ok", "text": "fine"}\n' + "{\n" * 12

    _, warnings = read_queries(text, "queries.jsonl")

    assert len(warnings) == 11
    assert warnings[10] == "queries.jsonl: ... and 2 more problem lines"


def test_queries_empty_rejected():
    with pytest.raises(DocumentLoadError, match="is empty or contains only blank lines"):
        read_queries("\n\n", "queries.jsonl")


def test_queries_no_valid_line_rejected():
    with pytest.raises(DocumentLoadError) as caught:
        read_queries('{"_id": "1"}\n', "queries.jsonl")

    assert caught.value.reason.startswith("has no valid line; line 1: missing 'text'.")


# ------------------------------------------------------------------------------ BEIR


def test_beir_folder_jsonl(tmp_path):
    folder = _beir_folder(tmp_path / "toy")

    dataset = load_beir(folder)

    assert dataset.folder == folder
    assert dataset.corpus_path == folder / "corpus.jsonl"
    assert dataset.split == "test"
    assert dataset.queries == {
        "1": "how long do cats sleep",
        "2": "do dogs need walks",
        "3": "unjudged query",
    }
    assert dataset.qrels == {"1": {"d1": 1}, "2": {"d2": 2, "d3": 0}}
    assert dataset.warnings == []


def test_beir_folder_gzip_corpus(tmp_path):
    folder = _beir_folder(tmp_path / "toy", gzip_corpus=True)

    dataset = load_beir(str(folder))

    assert dataset.corpus_path == folder / "corpus.jsonl.gz"
    loaded = load_file(dataset.corpus_path.name, dataset.corpus_path.read_bytes())
    assert [document.doc_id for document in loaded.documents] == ["d1", "d2", "d3"]


def test_beir_prefers_plain_corpus(tmp_path):
    folder = _beir_folder(tmp_path / "toy")
    (folder / "corpus.jsonl.gz").write_bytes(gzip.compress(b"{}\n"))

    assert load_beir(folder).corpus_path == folder / "corpus.jsonl"


def test_beir_judged_queries(tmp_path):
    dataset = load_beir(_beir_folder(tmp_path / "toy"))

    assert dataset.judged_queries == {
        "1": "how long do cats sleep",
        "2": "do dogs need walks",
    }


def test_beir_other_split(tmp_path):
    splits = {"test": "1\td1\t1\n", "dev": "2\td2\t1\n"}
    folder = _beir_folder(tmp_path / "toy", splits=splits)

    dataset = load_beir(folder, split="dev")

    assert dataset.split == "dev"
    assert dataset.qrels == {"2": {"d2": 1}}


def test_beir_missing_split_lists_found(tmp_path):
    splits = {"train": "1\td1\t1\n", "dev": "2\td2\t1\n"}
    folder = _beir_folder(tmp_path / "toy", splits=splits)

    with pytest.raises(DocumentLoadError) as caught:
        load_beir(folder, split="test")

    assert caught.value.source == str(folder / "qrels" / "test.tsv")
    assert "not found; the splits found are 'dev', 'train'" in caught.value.reason


def test_beir_empty_qrels_folder(tmp_path):
    folder = _beir_folder(tmp_path / "toy", splits={})

    with pytest.raises(DocumentLoadError, match="it contains no .tsv file"):
        load_beir(folder)


def test_beir_missing_qrels_folder(tmp_path):
    folder = _beir_folder(tmp_path / "toy")
    for path in (folder / "qrels").iterdir():
        path.unlink()
    (folder / "qrels").rmdir()

    with pytest.raises(DocumentLoadError) as caught:
        load_beir(folder)

    assert caught.value.source == str(folder / "qrels")


def test_beir_missing_corpus(tmp_path):
    folder = _beir_folder(tmp_path / "toy")
    (folder / "corpus.jsonl").unlink()

    with pytest.raises(DocumentLoadError) as caught:
        load_beir(folder)

    assert caught.value.source == str(folder / "corpus.jsonl")
    assert "corpus.jsonl.gz" in caught.value.reason


def test_beir_missing_queries(tmp_path):
    folder = _beir_folder(tmp_path / "toy")
    (folder / "queries.jsonl").unlink()

    with pytest.raises(DocumentLoadError) as caught:
        load_beir(folder)

    assert caught.value.source == str(folder / "queries.jsonl")


def test_beir_missing_folder(tmp_path):
    with pytest.raises(DocumentLoadError, match="folder not found"):
        load_beir(tmp_path / "nowhere")


def test_beir_judged_queries_without_text(tmp_path):
    splits = {"test": "1\td1\t1\n" + "".join(f"m{i}\td2\t1\n" for i in range(7))}
    folder = _beir_folder(tmp_path / "toy", splits=splits)

    dataset = load_beir(folder)

    assert len(dataset.qrels) == 8
    assert dataset.judged_queries == {"1": "how long do cats sleep"}
    assert dataset.warnings == [
        f"{folder / 'qrels' / 'test.tsv'}: 7 judged queries missing from queries.jsonl "
        "('m0', 'm1', 'm2', 'm3', 'm4', ...); they have no text, so they cannot be "
        "searched or evaluated"
    ]


def test_beir_broken_lines_warned(tmp_path):
    splits = {"test": "1\td1\t1\n2\td2\tyes\n"}
    queries = [*QUERIES, {"_id": "", "text": "blank id"}]
    folder = _beir_folder(tmp_path / "toy", splits=splits, queries=queries)

    dataset = load_beir(folder)

    assert dataset.qrels == {"1": {"d1": 1}}
    assert dataset.warnings == [
        f"{folder / 'queries.jsonl'} line 4: blank '_id'; skipped",
        f"{folder / 'qrels' / 'test.tsv'} line 2: grade 'yes' is not an integer; skipped",
    ]


@pytest.mark.skipif(not SCIFACT.is_dir(), reason=f"SciFact folder not found at {SCIFACT}")
def test_beir_scifact():
    dataset = load_beir(SCIFACT)

    assert dataset.corpus_path == SCIFACT / "corpus.jsonl.gz"
    assert len(dataset.queries) == 1109
    assert len(dataset.qrels) == 300
    assert sum(len(judged) for judged in dataset.qrels.values()) == 339
    assert len(dataset.judged_queries) == 300
    assert dataset.warnings == []
