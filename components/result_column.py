"""One column of results: a method's top k with rank, score, movement and highlighted text."""

from __future__ import annotations

import html

import streamlit as st

from components.answer_panel import row_anchor
from reranklab.compare import BM25, Comparison, MethodResult, Movement
from reranklab.documents import RankedPassage
from reranklab.highlight import match_spans, snippet_window
from reranklab.tokenization import Tokenizer


def render_column(comparison: Comparison, result: MethodResult, query_tokens: list[str], tokenizer: Tokenizer) -> None:
    """Draw one method's header, latency, any error or warnings, and its top k rows."""
    st.markdown(f"#### {result.label}")
    if result.error is not None:
        st.error(result.error)
        return
    st.caption(f"{result.latency_ms:,.1f} ms · {len(result.ranking)} ranked")
    for warning in result.warnings:
        st.warning(warning)
    rows = [
        _row_html(item, comparison.movement(item), result.method, query_tokens, tokenizer)
        for item in comparison.top(result.method)
    ]
    if not rows:
        st.info("No results.")
        return
    st.html("".join(rows))


def _row_html(item: RankedPassage, movement: Movement, method: str, query_tokens, tokenizer) -> str:
    passage = item.passage
    spans = match_spans(passage.text, query_tokens, tokenizer)
    start, end = snippet_window(passage.text, spans)
    snippet = _mark(passage.text, spans, start, end)
    prefix = "… " if start > 0 else ""
    suffix = " …" if end < len(passage.text) else ""
    score = "order only" if item.score is None else f"{item.score:.4f}"
    badge = "" if method == BM25 else _movement_badge(movement)
    title = html.escape(passage.title) if passage.title else html.escape(passage.doc_id)
    if passage.index > 0:
        title += f' <span class="rl-part">· passage {passage.index + 1}</span>'

    return (
        f'<div class="rl-row" id="{row_anchor(method, item.rank)}">'
        f'<div class="rl-head"><span class="rl-rank">#{item.rank}</span>'
        f'<span class="rl-score">{score}</span>{badge}</div>'
        f'<div class="rl-title">{title}</div>'
        f'<div class="rl-snippet">{prefix}{snippet}{suffix}</div>'
        f'<details><summary>{html.escape(passage.passage_id)}: full passage</summary>'
        f'<div class="rl-full">{_mark(passage.text, spans, 0, len(passage.text))}</div></details>'
        "</div>"
    )


def _movement_badge(movement: Movement) -> str:
    delta = movement.delta
    if movement.bm25_rank is None or movement.entered_top_k:
        css = "new"
    elif delta > 0:
        css = "up"
    elif delta < 0:
        css = "down"
    else:
        css = "same"
    arrows = {"up": "▲ ", "down": "▼ ", "new": "★ ", "same": "= "}
    return f'<span class="rl-move rl-{css}">{arrows[css]}{html.escape(movement.label)}</span>'


def _mark(text: str, spans: list[tuple[int, int]], start: int, end: int) -> str:
    """Escape text[start:end] as HTML and wrap the matched spans in <mark>."""
    parts = []
    position = start
    for span_start, span_end in spans:
        if span_end <= start or span_start >= end:
            continue
        span_start, span_end = max(span_start, start), min(span_end, end)
        parts.append(html.escape(text[position:span_start]))
        parts.append(f"<mark>{html.escape(text[span_start:span_end])}</mark>")
        position = span_end
    parts.append(html.escape(text[position:end]))
    return "".join(parts)
