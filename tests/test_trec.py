"""Tests of the TREC qrels and run readers and writers."""

from __future__ import annotations

import pytest
from ranx import Qrels as RanxQrels
from ranx import Run as RanxRun
from ranx import evaluate

from reranklab.errors import DocumentLoadError
from reranklab.trec import read_qrels, read_qrels_path, read_run, write_qrels, write_run

# ---------------------------------------------------------------------------- qrels


def test_qrels_trec_format():
    qrels, warnings = read_qrels("q1 0 d1 1\nq1 0 d2 0\nq2 0 d3 2\n", "qrels.txt")

    assert qrels == {"q1": {"d1": 1, "d2": 0}, "q2": {"d3": 2}}
    assert warnings == []


def test_qrels_beir_tsv_with_header():
    text = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\n"

    qrels, warnings = read_qrels(text, "test.tsv")

    assert qrels == {"q1": {"d1": 1}, "q2": {"d2": 2}}
    assert warnings == []


def test_qrels_beir_tsv_without_header():
    qrels, warnings = read_qrels("q1\td1\t1\nq1\td2\t0\n", "test.tsv")

    assert qrels == {"q1": {"d1": 1, "d2": 0}}
    assert warnings == []


def test_qrels_tab_separated_trec_lines():
    qrels, _ = read_qrels("q1\t0\td1\t3\n", "qrels.txt")

    assert qrels == {"q1": {"d1": 3}}


def test_qrels_broken_lines_reported():
    text = (
        "q1 0 d1 1\n"  # 1 good
        "q1 0 d2\n"  # 2 three columns in a TREC file
        "q1 0 d3 high\n"  # 3 grade not an integer
        "\n"  # 4 blank, ignored
        "q2 0 d4 2\n"  # 5 good
        "q2 0 d5 0.5\n"  # 6 grade not an integer
        "q2 0 d6 2 extra\n"  # 7 five columns
        "q1 0 d1 3\n"  # 8 duplicate with a different grade: kept, warned
        "q2 0 d4 2\n"  # 9 duplicate with the same grade: silent
    )

    qrels, warnings = read_qrels(text, "qrels.txt")

    assert qrels == {"q1": {"d1": 3}, "q2": {"d4": 2}}
    assert warnings == [
        "qrels.txt line 2: expected 4 columns (query_id iteration doc_id grade), "
        "found 3; skipped",
        "qrels.txt line 3: grade 'high' is not an integer; skipped",
        "qrels.txt line 6: grade '0.5' is not an integer; skipped",
        "qrels.txt line 7: expected 4 columns (query_id iteration doc_id grade), "
        "found 5; skipped",
        "qrels.txt line 8: query 'q1' judges 'd1' again with grade 3 (line 1 gave 1); "
        "kept the last grade",
    ]


def test_qrels_blank_ids_reported():
    text = "q1\td1\t1\n\td2\t1\nq1\t\t1\nq2\td3\t0\n"

    qrels, warnings = read_qrels(text, "test.tsv")

    assert qrels == {"q1": {"d1": 1}, "q2": {"d3": 0}}
    assert warnings == [
        "test.tsv line 2: blank query id; skipped",
        "test.tsv line 3: blank corpus id; skipped",
    ]


def test_qrels_negative_and_float_grades():
    qrels, warnings = read_qrels("q1 0 d1 -2\nq1 0 d2 -1\nq1 0 d3 2.0\n", "qrels.txt")

    assert qrels == {"q1": {"d1": -2, "d2": -1, "d3": 2}}
    assert warnings == []


def test_qrels_problem_list_capped():
    lines = ["q1 0 d0 1"] + [f"q1 0 d{i} x" for i in range(1, 16)]

    qrels, warnings = read_qrels("\n".join(lines), "qrels.txt")

    assert qrels == {"q1": {"d0": 1}}
    assert len(warnings) == 11
    assert warnings[0] == "qrels.txt line 2: grade 'x' is not an integer; skipped"
    assert warnings[9].startswith("qrels.txt line 11: ")
    assert warnings[10] == "qrels.txt: ... and 5 more problem lines"


def test_qrels_majority_format_wins():
    # One TREC line among BEIR lines is the broken one, not the other way round.
    text = "q1\td1\t1\nq1\td2\t1\nq1 0 d3 1\n"

    qrels, warnings = read_qrels(text, "test.tsv")

    assert qrels == {"q1": {"d1": 1, "d2": 1}}
    assert warnings == [
        "test.tsv line 3: expected 3 columns (query-id corpus-id score), found 4; skipped"
    ]


def test_qrels_crlf_line_endings():
    qrels, warnings = read_qrels("q1 0 d1 1\r\nq1 0 d2 0\r\n", "qrels.txt")

    assert qrels == {"q1": {"d1": 1, "d2": 0}}
    assert warnings == []


def test_qrels_bytes_with_bom():
    qrels, warnings = read_qrels(b"\xef\xbb\xbfq1 0 d1 1\n", "qrels.txt")

    assert qrels == {"q1": {"d1": 1}}
    assert warnings == []


def test_qrels_str_with_bom():
    qrels, _ = read_qrels("\ufeffq1 0 d1 1\n", "qrels.txt")

    assert qrels == {"q1": {"d1": 1}}


def test_qrels_latin1_bytes_warned():
    qrels, warnings = read_qrels(b"q1 0 caf\xe9 1\n", "qrels.txt")

    assert qrels == {"q1": {"café": 1}}
    assert len(warnings) == 1
    assert warnings[0].startswith("qrels.txt: not valid UTF-8")


def test_qrels_bom_and_latin1_byte():
    qrels, warnings = read_qrels(b"\xef\xbb\xbfq1 0 caf\xe9 1\n", "qrels.txt")

    assert qrels == {"q1": {"café": 1}}
    assert len(warnings) == 1


@pytest.mark.parametrize("data", ["", b"", "\n  \n"])
def test_qrels_empty_rejected(data):
    with pytest.raises(DocumentLoadError, match="is empty or contains only blank lines"):
        read_qrels(data, "qrels.txt")


def test_qrels_header_only_rejected():
    with pytest.raises(DocumentLoadError, match="contains only a header"):
        read_qrels("query-id\tcorpus-id\tscore\n", "test.tsv")


def test_qrels_no_valid_line_rejected():
    with pytest.raises(DocumentLoadError) as caught:
        read_qrels("q1 d1\nq1 0 d2 x\n", "qrels.txt")

    error = caught.value
    assert error.source == "qrels.txt"
    assert error.reason.startswith(
        "has no valid line; line 1: expected 4 columns (query_id iteration doc_id grade), "
        "found 2 (and 1 more invalid line). Expected TREC qrels lines"
    )


def test_qrels_binary_rejected():
    with pytest.raises(DocumentLoadError, match="binary"):
        read_qrels(b"PK\x03\x04\x00\x00", "qrels.zip")


def test_qrels_path_missing(tmp_path):
    path = tmp_path / "missing.txt"

    with pytest.raises(DocumentLoadError) as caught:
        read_qrels_path(path)

    assert caught.value.source == str(path)
    assert "not found" in caught.value.reason


def test_qrels_path_reads_file(tmp_path):
    path = tmp_path / "qrels.txt"
    path.write_bytes(b"q1 0 d1 1\nbroken\n")

    qrels, warnings = read_qrels_path(path)

    assert qrels == {"q1": {"d1": 1}}
    assert warnings == [
        f"{path} line 2: expected 4 columns (query_id iteration doc_id grade), "
        "found 1; skipped"
    ]


def test_write_qrels_sorted():
    qrels = {"q2": {"b": 1, "a": 0}, "q1": {"z": -1}}

    assert write_qrels(qrels) == "q1 0 z -1\nq2 0 a 0\nq2 0 b 1\n"


def test_qrels_round_trip():
    qrels = {"q1": {"d1": 3, "d2": 0, "d3": -1}, "q10": {"d1#0": 1}}

    parsed, warnings = read_qrels(write_qrels(qrels), "written")

    assert parsed == qrels
    assert warnings == []


def test_qrels_round_trip_ids_with_spaces():
    qrels = {"q1": {"my notes.txt#0": 2, "other.txt#1": 1}}

    text = write_qrels(qrels)
    parsed, _ = read_qrels(text, "written")

    assert "\t" in text
    assert parsed == qrels


@pytest.mark.parametrize("bad_id", ["", " ", "a\tb", "a\nb", " padded"])
def test_write_qrels_invalid_id(bad_id):
    with pytest.raises(ValueError, match="cannot write"):
        write_qrels({"q1": {bad_id: 1}})


def test_ranx_grade_zero_and_negative_not_relevant():
    # Checks the module docstring's claim about ranx: d1 (-1) and d2 (0) do not count,
    # so the first relevant document is at rank 3.
    qrels, _ = read_qrels("q1 0 d1 -1\nq1 0 d2 0\nq1 0 d3 1\n", "qrels.txt")
    run = {"q1": {"d1": 3.0, "d2": 2.0, "d3": 1.0}}

    mrr = evaluate(RanxQrels.from_dict(qrels), RanxRun.from_dict(run), "mrr")

    assert mrr == pytest.approx(1 / 3)


# ------------------------------------------------------------------------------ runs


def test_run_basic():
    text = "q1 Q0 d1 1 2.5 bm25\nq1 Q0 d2 2 1e-3 bm25\nq2 Q0 d3 1 -4 bm25\n"

    run, name, warnings = read_run(text, "run.txt")

    assert run == {"q1": {"d1": 2.5, "d2": 0.001}, "q2": {"d3": -4.0}}
    assert name == "bm25"
    assert warnings == []


def test_run_ordered_by_score_not_rank():
    run, _, _ = read_run("q1 Q0 d1 1 0.1 x\nq1 Q0 d2 2 0.9 x\n", "run.txt")

    assert list(run["q1"]) == ["d2", "d1"]


def test_run_ties_keep_rank_order():
    text = "".join(f"q1 Q0 d{rank} {rank} 1.0 x\n" for rank in (3, 1, 4, 2))

    run, _, warnings = read_run(text, "run.txt")

    by_score = sorted(run["q1"], key=lambda doc_id: -run["q1"][doc_id])
    assert by_score == ["d1", "d2", "d3", "d4"]
    assert run["q1"]["d1"] == 1.0
    assert run["q1"]["d4"] == pytest.approx(1.0, abs=1e-12)
    assert warnings == [
        "run.txt: 1 query with tied scores; the tied documents keep the order of the "
        "rank column"
    ]


@pytest.mark.parametrize(
    "relevant_rank, expected_mrr", [(1, 1.0), (2, 0.5), (5, 0.2), (8, 0.125)]
)
def test_run_ties_respected_by_ranx(relevant_rank, expected_mrr):
    # Eight documents share one score, so only the rank column places "rel".
    lines = [
        f"q1 Q0 {'rel' if rank == relevant_rank else f'n{rank}'} {rank} 7.0 x"
        for rank in range(1, 9)
    ]
    run, _, _ = read_run("\n".join(reversed(lines)), "run.txt")
    qrels = {"q1": {"rel": 1}}

    mrr = evaluate(RanxQrels.from_dict(qrels), RanxRun.from_dict(run), "mrr")

    assert mrr == pytest.approx(expected_mrr)


def test_run_broken_lines_reported():
    text = (
        "q1 Q0 d1 1 0.9 bm25\n"  # 1 good
        "q1 Q0 d2 2 0.8\n"  # 2 five columns
        "q1 Q0 d3 third 0.7 bm25\n"  # 3 rank not an integer
        "q1 Q0 d4 4 high bm25\n"  # 4 score not a number
        "q1 Q0 d5 5 nan bm25\n"  # 5 score not finite
        "q2 Q0 d6 1 0.5 bm25\n"  # 6 good
        "q1 Q0 d1 6 0.1 bm25\n"  # 7 duplicate document: first kept
        "q3\tQ0\t\t1\t0.5\tbm25\n"  # 8 blank doc id
    )

    run, name, warnings = read_run(text, "run.txt")

    assert run == {"q1": {"d1": 0.9}, "q2": {"d6": 0.5}}
    assert name == "bm25"
    assert warnings == [
        "run.txt line 2: expected 6 columns (query_id Q0 doc_id rank score tag), "
        "found 5; skipped",
        "run.txt line 3: rank 'third' is not an integer; skipped",
        "run.txt line 4: score 'high' is not a number; skipped",
        "run.txt line 5: score 'nan' is not a finite number; skipped",
        "run.txt line 7: query 'q1' lists 'd1' again, first on line 1; skipped",
        "run.txt line 8: blank doc id; skipped",
    ]


def test_run_several_tags_first_used():
    text = "q1 Q0 d1 1 0.9 first\nq1 Q0 d2 1 0.8 second\nq1 Q0 d3 2 0.7 first\n"

    run, name, warnings = read_run(text, "run.txt")

    assert name == "first"
    assert run == {"q1": {"d1": 0.9, "d3": 0.7}}
    assert warnings == [
        "run.txt: contains 2 runs; read only the first, 'first', and skipped 1 line "
        "tagged 'second'. Save each run in its own file to read the others."
    ]


def test_run_problem_list_capped():
    lines = ["q1 Q0 d0 1 1.0 x"] + [f"q1 Q0 d{i} {i} ? x" for i in range(1, 13)]

    _, _, warnings = read_run("\n".join(lines), "run.txt")

    assert len(warnings) == 11
    assert warnings[10] == "run.txt: ... and 2 more problem lines"


def test_run_empty_rejected():
    with pytest.raises(DocumentLoadError, match="is empty or contains only blank lines"):
        read_run(b"", "run.txt")


def test_run_no_valid_line_rejected():
    with pytest.raises(DocumentLoadError) as caught:
        read_run("q1 Q0 d1 1 x tag\n", "run.txt")

    assert caught.value.reason.startswith(
        "has no valid line; line 1: score 'x' is not a number. Expected TREC run lines"
    )


def test_write_run_format():
    run = {"q2": {"a": 0.5}, "q1": {"b": 0.25, "c": 3.0}}

    text = write_run(run, "my method")

    assert text == (
        "q1 Q0 c 1 3.0 my_method\nq1 Q0 b 2 0.25 my_method\nq2 Q0 a 1 0.5 my_method\n"
    )


def test_write_run_blank_name():
    with pytest.raises(ValueError, match="run name"):
        write_run({"q1": {"d1": 1.0}}, "  ")


def test_run_round_trip():
    run = {
        "q1": {"d1": 12.375, "d2": 0.1 + 0.2, "d3": -1e-9},
        "q2": {"my notes.txt#0": 0.5},
    }

    parsed, name, warnings = read_run(write_run(run, "bm25"), "written")

    assert parsed == run
    assert name == "bm25"
    assert warnings == []
