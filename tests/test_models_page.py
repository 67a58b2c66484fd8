"""AppTest runs of the models page: inspect, adjust, save as a column, and train."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")


@pytest.fixture
def page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page("app_pages/models.py")
    at.run()
    assert not at.exception, at.exception
    return at


def click(at: AppTest, label: str) -> None:
    [button] = [button for button in at.button if button.label == label]
    button.click()
    at.run()
    assert not at.exception, at.exception


def config_rows(at: AppTest) -> dict[str, str]:
    table = at.table[0].value
    return dict(zip(table["field"], table["value"], strict=True))


def test_minilm_config_shown(page):
    assert page.checkbox(key="models_trust_remote_code").value is False
    click(page, "Load configuration")
    rows = config_rows(page)
    assert rows["num_hidden_layers"] == "6"
    assert rows["hidden_size"] == "384"
    assert rows["hidden_dropout_prob"] == "0.1"


def test_adjusted_model_becomes_cross_encoder_column(page, tmp_path):
    click(page, "Load configuration")
    page.number_input(key="models_hidden_dropout_prob").set_value(0.3)
    page.number_input(key="models_num_labels").set_value(1)
    click(page, "Load the model with this configuration")
    assert any("newly initialised" in info.value for info in page.info)
    assert any("1 output labels" in success.value for success in page.success)

    page.text_input(key="models_save_to").set_value(str(tmp_path / "adjusted"))
    click(page, "Save and use")
    assert page.session_state["cross_encoder_model"] == str(tmp_path / "adjusted")
    assert (tmp_path / "adjusted" / "config.json").read_text().count('"hidden_dropout_prob": 0.3') == 1


def test_multi_label_model_rejected_as_cross_encoder(page, tmp_path):
    click(page, "Load configuration")
    page.number_input(key="models_num_labels").set_value(3)
    click(page, "Load the model with this configuration")
    page.text_input(key="models_save_to").set_value(str(tmp_path / "three"))
    click(page, "Save and use")
    assert any("num_labels = 1" in error.value for error in page.error)
    assert not (tmp_path / "three").exists()


def test_missing_model_error(page):
    page.text_input(key="models_reference").set_value("/no/such/model")
    page.run()
    click(page, "Load configuration")
    assert any("'/no/such/model' not found" in error.value for error in page.error)


def test_remote_code_warning_when_ticked(page):
    page.checkbox(key="models_trust_remote_code").check()
    page.run()
    assert any("runs Python files" in warning.value for warning in page.warning)


def test_training_from_clicked_judgments(page, tmp_path, monkeypatch):
    import csv
    import json

    from reranklab.corpus import Corpus
    from reranklab.judgments import JudgmentStore, default_data_dir

    corpus_id = Corpus.from_paths([ROOT / "assets" / "sample_corpus.jsonl"]).document_id
    queries = {
        json.loads(line)["_id"]: json.loads(line)["text"]
        for line in (ROOT / "assets" / "sample_queries.jsonl").read_text().splitlines()
    }
    store = JudgmentStore(default_data_dir() / "judgments.sqlite")
    with open(ROOT / "assets" / "sample_qrels.tsv") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))[:6]
    for row in rows:
        store.set_grade(corpus_id, queries[row["query-id"]], f"{row['corpus-id']}#0", row["corpus-id"], 2)

    page.radio(key="train_source").set_value("Judgments clicked in the app")
    page.run()
    page.number_input(key="train_max_steps").set_value(2)
    page.number_input(key="train_batch").set_value(4)
    page.text_input(key="train_output").set_value(str(tmp_path / "trained"))
    click(page, "Start training")

    successes = [success.value for success in page.success]
    assert any(value.startswith("2 steps in") for value in successes), successes
    assert (tmp_path / "trained" / "README.md").exists()
    click(page, "Use as the cross-encoder on the compare page")
    assert page.session_state["cross_encoder_model"] == str(tmp_path / "trained")


def test_trained_module_head_warned(page, tmp_path, minilm_path):
    from reranklab.training import _mean_pooling_cross_encoder

    folder = tmp_path / "mean-head"
    _mean_pooling_cross_encoder(minilm_path, 64, local_files_only=True).save_pretrained(str(folder))

    page.text_input(key="models_reference").set_value(str(folder))
    page.run()
    click(page, "Load configuration")

    assert any("untrained head in place of the trained one" in warning.value for warning in page.warning)


def test_plain_model_not_warned(page):
    click(page, "Load configuration")

    assert not [warning.value for warning in page.warning if "scoring head" in warning.value]
