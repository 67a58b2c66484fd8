"""Sidebar settings: passages, first stage, BM25 options and rerankers.

Each widget writes to its own `widget_*` key, and a callback copies the value to the
plain key that `components.state` reads. Streamlit can drop a widget's key from the
session state between runs, and with widget keys alone the settings were gone on the
second run. Plain keys keep them across reruns and pages.
"""

from __future__ import annotations

import streamlit as st

from reranklab.compare import METHOD_LABELS
from reranklab.gemini import GEMINI_MODELS
from reranklab.registry import METHODS
from reranklab.rerankers.cohere import COHERE_MODELS


def _copy_setting(widget_key: str, key: str) -> None:
    st.session_state[key] = st.session_state[widget_key]


def _bind(key: str) -> dict:
    """Return the widget arguments that show and update the setting stored under `key`."""
    widget_key = f"widget_{key}"
    st.session_state[widget_key] = st.session_state[key]
    return {"key": widget_key, "on_change": _copy_setting, "args": (widget_key, key)}


def render_settings() -> None:
    """Draw the settings widgets. Each one updates the session state key passed to `_bind`."""
    with st.sidebar:
        st.header("Settings")

        st.subheader("Uploads")
        st.number_input(
            "Maximum file size (MiB)", min_value=1, max_value=200, step=10, **_bind("max_file_mib"),
            help="Larger uploaded files are rejected with a message. The server accepts at most 200 MB "
                 "per file (server.maxUploadSize in .streamlit/config.toml).",
        )

        st.subheader("Passages")
        st.number_input(
            "Passage size (words)", min_value=16, max_value=2000, step=8, **_bind("passage_words"),
            help="Documents are split into windows of this many words. CJK characters count as one word each.",
        )
        st.number_input(
            "Overlap (words)", min_value=0, max_value=1000, step=8, **_bind("overlap_words"),
            help="Words shared by consecutive passages. Must be smaller than the passage size.",
        )

        st.subheader("Retrieval")
        st.number_input(
            "BM25 candidates", min_value=1, max_value=1000, step=10, **_bind("candidates"),
            help="How many BM25 results every reranker orders.",
        )
        st.number_input("Results per column (top k)", min_value=1, max_value=100, **_bind("top_k"))

        with st.expander("BM25 (advanced)"):
            st.selectbox(
                "Variant", ["okapi", "lucene", "bm25l", "bm25+"], **_bind("bm25_variant"),
                format_func={"okapi": "Okapi / Robertson", "lucene": "Lucene", "bm25l": "BM25L",
                             "bm25+": "BM25+"}.get,
            )
            st.number_input("k1", min_value=0.0, max_value=5.0, step=0.1, **_bind("bm25_k1"),
                            help="Term frequency saturation. Higher values let repeated terms count more.")
            st.slider("b", min_value=0.0, max_value=1.0, step=0.05, **_bind("bm25_b"),
                      help="Length normalisation: 0 ignores passage length, 1 normalises fully.")
            st.toggle("Remove English stopwords", **_bind("stopwords"))
            st.toggle("Stem words (Snowball English)", **_bind("stemming"))

        st.subheader("Rerankers")
        st.multiselect(
            "Methods", list(METHODS), **_bind("methods"), format_func=lambda m: METHOD_LABELS.get(m, m),
            help="BM25 always runs: it retrieves the candidates.",
        )
        st.text_input("Bi-encoder model", **_bind("bi_encoder_model"),
                      help="A local folder or a Hugging Face model id.")
        st.text_input("Cross-encoder model", **_bind("cross_encoder_model"),
                      help="A local folder or a Hugging Face model id.")
        st.checkbox("Cross-encoder in int8", **_bind("cross_encoder_int8"),
                    help="Quantize the cross-encoder's linear layers to int8: about 1.9 times as fast on a 2-core CPU. "
                         "Scores are approximate, so rankings can change slightly.")
        st.checkbox("Download missing models from the Hugging Face Hub", **_bind("allow_downloads"),
                    help="Off: models load only from local folders and the local cache.")
        st.number_input("RRF k", min_value=1, max_value=1000, **_bind("rrf_k"),
                        help="Reciprocal rank fusion adds 1 / (k + rank) per ranking.")

        with st.expander("Cloud services (Cohere, Gemini)"):
            st.text_input("Cohere API key", type="password", **_bind("cohere_key"),
                          help="Kept for this browser session only. Else COHERE_API_KEY or secrets.toml is used.")
            st.selectbox("Cohere model", COHERE_MODELS, **_bind("cohere_model"))
            st.text_input("Gemini API key", type="password", **_bind("gemini_key"),
                          help="Kept for this browser session only. Else GEMINI_API_KEY, GOOGLE_API_KEY "
                               "or secrets.toml is used.")
            st.selectbox("Gemini model", GEMINI_MODELS, **_bind("gemini_model"))
            st.number_input("Timeout (seconds)", min_value=1.0, max_value=300.0, step=5.0,
                            **_bind("service_timeout"), help="How long to wait for each response.")
            st.text_input("Cohere base URL", **_bind("cohere_base_url"),
                          help="For a proxy. Empty: COHERE_BASE_URL, else Cohere's API.")
            st.text_input("Gemini base URL", **_bind("gemini_base_url"),
                          help="For a proxy. Empty: GEMINI_BASE_URL, else Google's API.")

        st.subheader("Answers")
        st.selectbox("Passages per answer (top k)", [1, 3, 5, 10], **_bind("answer_top_k"))
        st.slider("Temperature", min_value=0.0, max_value=2.0, step=0.1, **_bind("answer_temperature"))
        st.number_input("Max output tokens", min_value=64, max_value=8192, step=64,
                        **_bind("answer_max_tokens"))
