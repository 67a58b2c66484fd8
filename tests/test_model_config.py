from __future__ import annotations

import json
import logging
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from reranklab.errors import ModelLoadError
from reranklab.model_config import (
    DROPOUT_FIELDS,
    adjust_config,
    load_config,
    load_sequence_classifier,
    save_model,
    summarize_config,
)

REMOTE_CODE_MESSAGE = "runs its own code from its repository"

CONFIGURATION_SOURCE = '''from transformers import BertConfig


class RerankLabTestConfig(BertConfig):
    model_type = "reranklab-test-bert"
'''

MODELING_SOURCE = '''from transformers import BertForSequenceClassification

from .configuration_reranklab_test import RerankLabTestConfig


class RerankLabTestForSequenceClassification(BertForSequenceClassification):
    config_class = RerankLabTestConfig
'''

STANDARD_TYPE_MODELING_SOURCE = '''from transformers import BertForSequenceClassification


class RerankLabTestForSequenceClassification(BertForSequenceClassification):
    pass
'''


def tiny_bert_config(**overrides):
    from transformers import AutoConfig

    fields = dict(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=1,
    )
    fields.update(overrides)
    return AutoConfig.for_model("bert", **fields)


def save_tiny_bert(folder: Path, minilm_path: str) -> Path:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    AutoModelForSequenceClassification.from_config(tiny_bert_config()).save_pretrained(folder)
    AutoTokenizer.from_pretrained(minilm_path).save_pretrained(folder)
    return folder


def edit_config_json(folder: Path, **fields) -> None:
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config.update(fields)
    path.write_text(json.dumps(config, indent=2))


@pytest.fixture
def modules_cache(tmp_path, monkeypatch):
    """Copy remote code into a fresh folder instead of ~/.cache/huggingface/modules."""
    import transformers.dynamic_module_utils

    folder = tmp_path / "hf-modules"
    monkeypatch.setattr(transformers.dynamic_module_utils, "HF_MODULES_CACHE", str(folder))
    return folder


@pytest.fixture
def remote_code_path(tmp_path, minilm_path) -> str:
    """A tiny BERT whose config and model classes live in the folder, under a custom model type."""
    folder = save_tiny_bert(tmp_path / "remote-code-model", minilm_path)
    (folder / "configuration_reranklab_test.py").write_text(CONFIGURATION_SOURCE)
    (folder / "modeling_reranklab_test.py").write_text(MODELING_SOURCE)
    edit_config_json(
        folder,
        model_type="reranklab-test-bert",
        architectures=["RerankLabTestForSequenceClassification"],
        auto_map={
            "AutoConfig": "configuration_reranklab_test.RerankLabTestConfig",
            "AutoModelForSequenceClassification": "modeling_reranklab_test.RerankLabTestForSequenceClassification",
        },
    )
    return str(folder)


@pytest.fixture
def standard_type_remote_code_path(tmp_path, minilm_path) -> str:
    """A tiny BERT of model_type "bert" whose config.json names a model class in the folder."""
    folder = save_tiny_bert(tmp_path / "standard-type-remote-code", minilm_path)
    (folder / "modeling_reranklab_test.py").write_text(STANDARD_TYPE_MODELING_SOURCE)
    edit_config_json(
        folder,
        auto_map={"AutoModelForSequenceClassification": "modeling_reranklab_test.RerankLabTestForSequenceClassification"},
    )
    return str(folder)


@pytest.fixture
def trust_flags(monkeypatch):
    """Record the trust_remote_code argument of every transformers Auto* from_pretrained call."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    calls: list[tuple[str, object]] = []
    for auto_class in (AutoConfig, AutoTokenizer, AutoModelForSequenceClassification):
        original = auto_class.from_pretrained

        def spy(*args, _name=auto_class.__name__, _original=original, **kwargs):
            calls.append((_name, kwargs.get("trust_remote_code", "not passed")))
            return _original(*args, **kwargs)

        monkeypatch.setattr(auto_class, "from_pretrained", spy)
    return calls


# Summary


def test_summary_minilm_fields(minilm_path):
    summary = summarize_config(load_config(minilm_path), minilm_path)
    assert summary.reference == minilm_path
    assert summary.model_type == "bert"
    assert summary.architectures == ["BertModel"]
    assert summary.num_hidden_layers == 6
    assert summary.hidden_size == 384
    assert summary.num_attention_heads == 12
    assert summary.max_position_embeddings == 512


def test_summary_minilm_dropouts(minilm_path):
    summary = summarize_config(load_config(minilm_path), minilm_path)
    assert summary.dropouts == {"hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1}
    assert set(DROPOUT_FIELDS) == set(summary.dropouts)


def test_summary_bundled_alias(minilm_path):
    reference = "sentence-transformers/all-MiniLM-L6-v2"
    summary = summarize_config(load_config(reference), reference)
    assert summary.reference == reference
    assert summary.hidden_size == 384


def test_summary_default_labels(minilm_path):
    summary = summarize_config(load_config(minilm_path), minilm_path)
    assert summary.num_labels == 2
    assert summary.id2label == {0: "LABEL_0", 1: "LABEL_1"}


def test_summary_classifier_dropout_when_set():
    summary = summarize_config(tiny_bert_config(classifier_dropout=0.25), "tiny")
    assert summary.dropouts["classifier_dropout"] == 0.25


def test_summary_rows(minilm_path):
    rows = summarize_config(load_config(minilm_path), minilm_path).to_rows()
    values = dict(rows)
    assert all(isinstance(field, str) and isinstance(value, str) for field, value in rows)
    assert values["reference"] == minilm_path
    assert values["num_hidden_layers"] == "6"
    assert values["id2label"] == "0: LABEL_0, 1: LABEL_1"
    assert values["hidden_dropout_prob"] == "0.1"
    assert rows[-1][0] in DROPOUT_FIELDS


def test_summary_rows_missing_field():
    summary = replace(summarize_config(tiny_bert_config(), "tiny"), max_position_embeddings=None, architectures=[])
    rows = dict(summary.to_rows())
    assert rows["max_position_embeddings"] == "not set"
    assert rows["architectures"] == "not set"


# Adjusting


def test_adjust_returns_copy(minilm_path):
    config = load_config(minilm_path)
    adjusted = adjust_config(config, num_labels=1, hidden_dropout_prob=0.3)
    assert adjusted is not config
    assert config.num_labels == 2
    assert config.hidden_dropout_prob == 0.1
    assert adjusted.hidden_dropout_prob == 0.3


def test_adjust_num_labels_rebuilds_labels(minilm_path):
    adjusted = adjust_config(load_config(minilm_path), num_labels=3)
    assert adjusted.num_labels == 3
    assert adjusted.id2label == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
    assert adjusted.label2id == {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2}


def test_adjust_num_labels_resets_problem_type():
    config = tiny_bert_config(num_labels=2, problem_type="single_label_classification")
    assert adjust_config(config, num_labels=1).problem_type is None


def test_adjust_same_num_labels_keeps_names():
    config = tiny_bert_config(num_labels=2)
    config.id2label = {0: "irrelevant", 1: "relevant"}
    config.label2id = {"irrelevant": 0, "relevant": 1}
    adjusted = adjust_config(config, num_labels=2)
    assert adjusted.id2label == {0: "irrelevant", 1: "relevant"}


def test_adjust_none_changes_nothing(minilm_path):
    config = load_config(minilm_path)
    assert adjust_config(config).to_dict() == config.to_dict()


@pytest.mark.parametrize("num_labels", [0, -1, 1.5, True])
def test_adjust_rejects_num_labels(num_labels):
    with pytest.raises(ValueError, match="num_labels must be an integer of at least 1"):
        adjust_config(tiny_bert_config(), num_labels=num_labels)


@pytest.mark.parametrize("probability", [-0.1, 1.0, 1.5, math.nan])
@pytest.mark.parametrize("field", DROPOUT_FIELDS)
def test_adjust_rejects_dropout(field, probability):
    with pytest.raises(ValueError, match=f"{field} must be a probability in"):
        adjust_config(tiny_bert_config(), **{field: probability})


def test_adjust_accepts_zero_dropout():
    assert adjust_config(tiny_bert_config(), attention_probs_dropout_prob=0).attention_probs_dropout_prob == 0.0


def test_adjust_missing_dropout_field():
    from transformers import AutoConfig

    config = AutoConfig.for_model("distilbert")
    with pytest.raises(ValueError) as info:
        adjust_config(config, hidden_dropout_prob=0.2)
    message = str(info.value)
    assert "hidden_dropout_prob" in message
    assert "distilbert" in message
    assert "attention_dropout" in message
    assert "seq_classif_dropout" in message


# Loading a sequence classifier


def test_num_labels_reaches_model(minilm_path):
    config = adjust_config(load_config(minilm_path), num_labels=3)
    loaded = load_sequence_classifier(minilm_path, config)
    inputs = loaded.tokenizer("a query", "a passage", return_tensors="pt")
    with torch.no_grad():
        logits = loaded.model(**inputs).logits
    assert loaded.model.classifier.out_features == 3
    assert tuple(logits.shape) == (1, 3)
    assert not loaded.model.training


def test_bi_encoder_gets_new_head(minilm_path):
    loaded = load_sequence_classifier(minilm_path, adjust_config(load_config(minilm_path), num_labels=1))
    assert loaded.new_head
    assert loaded.new_parameters == ("classifier.bias", "classifier.weight")


def test_bi_encoder_keeps_encoder_weights(minilm_path):
    from safetensors.torch import load_file

    saved = load_file(str(Path(minilm_path) / "model.safetensors"))
    loaded = load_sequence_classifier(minilm_path, load_config(minilm_path))
    name = "embeddings.word_embeddings.weight"
    assert torch.equal(loaded.model.bert.embeddings.word_embeddings.weight, saved[name])


def test_dropout_reaches_modules(tiny_cross_encoder_path):
    config = adjust_config(
        load_config(tiny_cross_encoder_path), hidden_dropout_prob=0.3, attention_probs_dropout_prob=0.2
    )
    model = load_sequence_classifier(tiny_cross_encoder_path, config).model
    dropouts = {name: module.p for name, module in model.named_modules() if isinstance(module, torch.nn.Dropout)}
    attention = {name: p for name, p in dropouts.items() if name.endswith("attention.self.dropout")}
    hidden = {name: p for name, p in dropouts.items() if name not in attention}
    assert model.config.hidden_dropout_prob == 0.3
    assert model.config.attention_probs_dropout_prob == 0.2
    assert len(attention) == 2
    assert set(attention.values()) == {0.2}
    assert "dropout" in hidden
    assert set(hidden.values()) == {0.3}


def test_changed_num_labels_reinitialises_head(tiny_cross_encoder_path):
    config = adjust_config(load_config(tiny_cross_encoder_path), num_labels=3)
    loaded = load_sequence_classifier(tiny_cross_encoder_path, config)
    assert loaded.model.classifier.out_features == 3
    assert loaded.new_head
    assert loaded.new_parameters == ("classifier.bias", "classifier.weight")


def test_same_num_labels_keeps_head(tiny_cross_encoder_path):
    from safetensors.torch import load_file

    saved = load_file(str(Path(tiny_cross_encoder_path) / "model.safetensors"))
    loaded = load_sequence_classifier(tiny_cross_encoder_path, load_config(tiny_cross_encoder_path))
    assert not loaded.new_head
    assert loaded.new_parameters == ()
    assert torch.equal(loaded.model.classifier.weight, saved["classifier.weight"])


def test_missing_encoder_weights_logged(tmp_path, minilm_path, caplog):
    from safetensors.torch import load_file, save_file

    folder = save_tiny_bert(tmp_path / "partial", minilm_path)
    weights = load_file(str(folder / "model.safetensors"))
    del weights["bert.pooler.dense.weight"]
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})

    with caplog.at_level(logging.WARNING, logger="reranklab.model_config"):
        loaded = load_sequence_classifier(str(folder), load_config(str(folder)))
    assert loaded.new_parameters == ("bert.pooler.dense.weight",)
    assert not loaded.new_head
    assert "1 encoder parameters" in caplog.text
    assert "bert.pooler.dense.weight" in caplog.text


def test_encoder_mismatch_rejected(tiny_cross_encoder_path):
    config = load_config(tiny_cross_encoder_path)
    config.vocab_size = 1000
    with pytest.raises(ModelLoadError) as info:
        load_sequence_classifier(tiny_cross_encoder_path, config)
    message = str(info.value)
    assert "does not fit the weights" in message
    assert "bert.embeddings.word_embeddings.weight" in message
    assert "(30522, 32)" in message


def test_wrong_architecture_rejected(tmp_path):
    from transformers import AutoConfig

    AutoConfig.for_model("vit", hidden_size=32, num_hidden_layers=1, num_attention_heads=2).save_pretrained(tmp_path)
    config = load_config(str(tmp_path))
    with pytest.raises(ModelLoadError) as info:
        load_sequence_classifier(str(tmp_path), config)
    message = str(info.value)
    assert "'vit'" in message
    assert "needs a model with a sequence classification architecture" in message


# Not found


def test_missing_folder_not_found():
    with pytest.raises(ModelLoadError, match="'/no/such/model' not found"):
        load_config("/no/such/model")


def test_uncached_hub_id_explains_fix():
    with pytest.raises(ModelLoadError) as info:
        load_config("reranklab-test/no-such-model", allow_downloads=False)
    message = str(info.value)
    assert "'reranklab-test/no-such-model'" in message
    assert "not in a local folder or the Hugging Face cache" in message
    assert "RERANKLAB_ALLOW_DOWNLOADS=1" in message


def test_folder_without_config_rejected(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(ModelLoadError, match="could not be loaded"):
        load_config(str(tmp_path))


def test_folder_without_weights_rejected(tmp_path):
    tiny_bert_config().save_pretrained(tmp_path)
    config = load_config(str(tmp_path))
    with pytest.raises(ModelLoadError, match="could not be loaded"):
        load_sequence_classifier(str(tmp_path), config)


# Remote code


def test_default_calls_pass_trust_false(minilm_path, trust_flags):
    load_sequence_classifier(minilm_path, load_config(minilm_path))
    # AutoTokenizer also loads the config, so AutoConfig may appear more than once.
    assert {name for name, _ in trust_flags} == {"AutoConfig", "AutoTokenizer", "AutoModelForSequenceClassification"}
    assert all(flag is False for _, flag in trust_flags)


def test_remote_code_config_needs_trust(remote_code_path, modules_cache):
    with pytest.raises(ModelLoadError, match=REMOTE_CODE_MESSAGE) as info:
        load_config(remote_code_path)
    assert "Trust remote code" in str(info.value)
    assert not modules_cache.exists()


def test_remote_code_loads_with_trust(remote_code_path, modules_cache):
    config = load_config(remote_code_path, trust_remote_code=True)
    loaded = load_sequence_classifier(remote_code_path, config, trust_remote_code=True)
    assert config.model_type == "reranklab-test-bert"
    assert type(loaded.model).__name__ == "RerankLabTestForSequenceClassification"
    assert not loaded.new_head
    assert modules_cache.is_dir()


def test_remote_code_model_needs_trust(remote_code_path, modules_cache):
    config = load_config(remote_code_path, trust_remote_code=True)
    with pytest.raises(ModelLoadError, match=REMOTE_CODE_MESSAGE):
        load_sequence_classifier(remote_code_path, config)


def test_standard_type_remote_code_needs_trust(standard_type_remote_code_path, modules_cache):
    config = load_config(standard_type_remote_code_path)
    assert config.model_type == "bert"
    with pytest.raises(ModelLoadError, match=REMOTE_CODE_MESSAGE):
        load_sequence_classifier(standard_type_remote_code_path, config)


def test_standard_type_remote_code_with_trust(standard_type_remote_code_path, modules_cache):
    config = load_config(standard_type_remote_code_path)
    loaded = load_sequence_classifier(standard_type_remote_code_path, config, trust_remote_code=True)
    assert type(loaded.model).__name__ == "RerankLabTestForSequenceClassification"


# Saving


@pytest.fixture(scope="module")
def saved_minilm_reranker(tmp_path_factory, minilm_path) -> Path:
    """MiniLM with a new one-label head, saved with save_model."""
    loaded = load_sequence_classifier(minilm_path, adjust_config(load_config(minilm_path), num_labels=1))
    return save_model(loaded.tokenizer, loaded.model, tmp_path_factory.mktemp("saved") / "minilm-reranker")


def test_saved_folder_files(saved_minilm_reranker):
    assert saved_minilm_reranker.is_absolute()
    assert (saved_minilm_reranker / "config.json").is_file()
    assert (saved_minilm_reranker / "model.safetensors").is_file()
    assert (saved_minilm_reranker / "tokenizer.json").is_file()


def test_saved_folder_ranks_as_cross_encoder(saved_minilm_reranker):
    from sentence_transformers import CrossEncoder

    documents = ["A kitten sleeps in the sun.", "The stock market fell.", "Rain flooded the town."]
    model = CrossEncoder(str(saved_minilm_reranker), device="cpu", local_files_only=True)
    ranking = model.rank("a sleeping cat", documents)
    scores = [item["score"] for item in ranking]
    assert model.num_labels == 1
    assert sorted(item["corpus_id"] for item in ranking) == [0, 1, 2]
    assert scores == sorted(scores, reverse=True)


def test_saved_folder_encodes_as_bi_encoder(saved_minilm_reranker, minilm):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(saved_minilm_reranker), device="cpu", local_files_only=True)
    texts = ["a sleeping cat", "the stock market fell"]
    embeddings = model.encode(texts, normalize_embeddings=True)
    # The shipped MiniLM is the same encoder with mean pooling and normalisation.
    reference = minilm.encode(texts)
    assert embeddings.shape == (2, 384)
    assert (embeddings * reference).sum(axis=1) == pytest.approx([1.0, 1.0], abs=1e-4)


def test_save_rejects_non_empty_folder(tiny_cross_encoder_path, tmp_path):
    loaded = load_sequence_classifier(tiny_cross_encoder_path, load_config(tiny_cross_encoder_path))
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="already contains files"):
        save_model(loaded.tokenizer, loaded.model, tmp_path)
    assert not (tmp_path / "config.json").exists()


def test_save_overwrite_keeps_other_files(tiny_cross_encoder_path, tmp_path):
    loaded = load_sequence_classifier(tiny_cross_encoder_path, load_config(tiny_cross_encoder_path))
    (tmp_path / "notes.txt").write_text("keep me")
    folder = save_model(loaded.tokenizer, loaded.model, tmp_path, overwrite=True)
    assert (folder / "config.json").is_file()
    assert (folder / "notes.txt").read_text() == "keep me"


def test_save_rejects_file(tiny_cross_encoder_path, tmp_path):
    loaded = load_sequence_classifier(tiny_cross_encoder_path, load_config(tiny_cross_encoder_path))
    target = tmp_path / "model.txt"
    target.write_text("a file")
    with pytest.raises(FileExistsError, match="is a file"):
        save_model(loaded.tokenizer, loaded.model, target)
