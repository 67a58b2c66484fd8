"""AppTest runs of the evaluate page: sample judgments, uploaded qrels, clicked judgments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")


@pytest.fixture
def page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page("app_pages/evaluate.py")
    at.run()
    assert not at.exception, at.exception
    return at


def click(at: AppTest, label: str) -> None:
    [button] = [button for button in at.button if button.label == label]
    button.click()
    at.run()
    assert not at.exception, at.exception


def metrics_table(at: AppTest):
    return at.dataframe[0].value


def test_sample_judgments_give_metrics_per_method(page):
    page.number_input(key="eval_max_queries").set_value(10)
    click(page, "Run evaluation")
    table = metrics_table(page)
    assert list(table["method"]) == ["BM25", "Bi-encoder", "RRF (BM25 + bi-encoder)"]
    assert list(table.columns[1:6]) == ["nDCG@10", "MRR@10", "Recall@10", "Recall@100", "MAP@100"]
    for value in table["nDCG@10"]:
        assert 0.0 <= float(value.rstrip("†")) <= 1.0
    captions = [caption.value for caption in page.caption]
    assert any(caption.startswith("10 queries evaluated at document level") for caption in captions)
    assert any("paired Student's t-test, p ≤ 0.05" in caption for caption in captions)
    errors = [error.value for error in page.error]
    assert any(error.startswith("Cross-encoder was not evaluated") for error in errors)
    assert len(page.get("plotly_chart")) == 3


def test_uploaded_qrels_report_bad_lines(page):
    page.radio(key="eval_source").set_value("qrels")
    page.run()
    queries = "\n".join(
        json.dumps(json.loads(line)) for line in (ROOT / "assets" / "sample_queries.jsonl").read_text().splitlines()[:3]
    )
    first_ids = [json.loads(line)["_id"] for line in queries.splitlines()]
    qrels_lines = (ROOT / "assets" / "sample_qrels.tsv").read_text().splitlines()[1:]
    chosen = [
        " ".join([query_id, "0", doc_id, grade])
        for query_id, doc_id, grade in (line.split("\t") for line in qrels_lines)
        if query_id in first_ids
    ]
    qrels = "\n".join([chosen[0], "this line is broken", *chosen[1:]]) + "\n"
    page.file_uploader(key="eval_qrels_file").set_value(("judged.qrels", qrels.encode(), "text/plain"))
    page.file_uploader(key="eval_queries_file").set_value(("queries.jsonl", queries.encode(), "application/json"))
    page.run()
    warnings = [warning.value for warning in page.warning]
    assert any("judged.qrels line 2" in warning for warning in warnings)

    click(page, "Run evaluation")
    captions = [caption.value for caption in page.caption]
    assert any(caption.startswith("3 queries evaluated") for caption in captions)


def test_clicked_judgments_without_any(page):
    page.radio(key="eval_source").set_value("clicked")
    page.run()
    assert any("No judgments for the sample corpus yet" in info.value for info in page.info)


def test_open_query_in_compare(page):
    page.number_input(key="eval_max_queries").set_value(3)
    click(page, "Run evaluation")
    query_id = page.selectbox(key="eval_open_query").options[0].split(":")[0]
    page.selectbox(key="eval_open_query").set_value(query_id)
    page.run()
    click(page, "Open in Compare")
    queries = {
        json.loads(line)["_id"]: json.loads(line)["text"]
        for line in (ROOT / "assets" / "sample_queries.jsonl").read_text().splitlines()
    }
    assert page.text_input(key="widget_query").value == queries[query_id]
    assert any(m.value == "#### BM25" for m in page.markdown)


def test_interrupted_run_reports_partial_results(page):
    page.number_input(key="eval_max_queries").set_value(4)
    click(page, "Run evaluation")
    state = page.session_state["evaluation"]
    # A click on Cancel stops the script mid-run, leaving the state as "running" with the
    # queries done so far; the next run of the page must report those.
    state["status"] = "running"
    state["total"] = 30
    page.session_state["evaluation"] = state
    page.run()
    assert not page.exception, page.exception
    warnings = [warning.value for warning in page.warning]
    assert any(warning.startswith("Cancelled after 4 of 30 queries") for warning in warnings)
    assert len(metrics_table(page)) == 3
