"""Tests of the benchmark helpers that write docs/benchmarks.md and read the SciFact files."""

from __future__ import annotations

import math

import pytest

from benchmarks.report import DOC_INTRO, percentile, read_test_queries, write_section


def test_write_section_creates_file_with_intro(tmp_path):
    path = tmp_path / "docs" / "benchmarks.md"

    write_section(path, "demo", "## Demo\n\n42 ms\n")

    text = path.read_text(encoding="utf-8")
    assert text.startswith(DOC_INTRO)
    assert "<!-- demo:start -->\n## Demo\n\n42 ms\n<!-- demo:end -->\n" in text


def test_write_section_replaces_only_its_own_section(tmp_path):
    path = tmp_path / "benchmarks.md"
    path.write_text(
        "# Benchmarks\n\nIntro.\n\n<!-- other:start -->\nkeep me\n<!-- other:end -->\n\n"
        "<!-- demo:start -->\nold numbers\n<!-- demo:end -->\n\nTrailing text.\n",
        encoding="utf-8",
    )

    write_section(path, "demo", "new numbers")

    text = path.read_text(encoding="utf-8")
    assert "old numbers" not in text
    assert "<!-- demo:start -->\nnew numbers\n<!-- demo:end -->" in text
    assert "<!-- other:start -->\nkeep me\n<!-- other:end -->" in text
    assert text.startswith("# Benchmarks\n\nIntro.\n")
    assert text.endswith("\n\nTrailing text.\n")


def test_write_section_appends_when_markers_missing(tmp_path):
    path = tmp_path / "benchmarks.md"
    path.write_text("# Benchmarks\n\nIntro.\n", encoding="utf-8")

    write_section(path, "demo", "numbers")

    assert path.read_text(encoding="utf-8") == (
        "# Benchmarks\n\nIntro.\n\n<!-- demo:start -->\nnumbers\n<!-- demo:end -->\n"
    )


def test_write_section_twice_keeps_one_copy(tmp_path):
    path = tmp_path / "benchmarks.md"

    write_section(path, "demo", "first")
    write_section(path, "demo", "second")

    text = path.read_text(encoding="utf-8")
    assert text.count("<!-- demo:start -->") == 1
    assert "second" in text
    assert "first" not in text


def test_percentile_interpolates():
    values = [10.0, 20.0, 30.0, 40.0]

    assert percentile(values, 50) == pytest.approx(25.0)
    assert percentile(values, 95) == pytest.approx(38.5)


def test_percentile_empty_is_nan():
    assert math.isnan(percentile([], 50))


def test_read_test_queries_keeps_qrels_order(tmp_path):
    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n5\td1\t1\n2\td2\t1\n5\td3\t1\n2\td4\t0\n", encoding="utf-8"
    )
    (tmp_path / "queries.jsonl").write_text(
        '{"_id": "2", "text": "second claim"}\n\n{"_id": "5", "text": "fifth claim"}\n'
        '{"_id": "9", "text": "unjudged claim"}\n',
        encoding="utf-8",
    )

    queries, relevant = read_test_queries(tmp_path)

    assert queries == [("5", "fifth claim"), ("2", "second claim")]
    assert relevant == {"5": {"d1", "d3"}, "2": {"d2"}}


def test_read_test_queries_missing_text_exits(tmp_path):
    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n7\td1\t1\n", encoding="utf-8")
    (tmp_path / "queries.jsonl").write_text('{"_id": "1", "text": "other claim"}\n', encoding="utf-8")

    with pytest.raises(SystemExit, match="1 test query ids are not in queries.jsonl, e.g. 7"):
        read_test_queries(tmp_path)
