"""Plotly figures of a comparison: rank shifts across methods and latency per method."""

from __future__ import annotations

import plotly.graph_objects as go

from reranklab.compare import Comparison


def rank_shift_figure(comparison: Comparison) -> go.Figure:
    """Draw one line per passage through its rank in each method's top k.

    The x axis lists the methods that returned a ranking, BM25 first; the y axis is the
    rank, 1 at the top. A passage missing from a method's top k has a gap there.
    """
    methods = [method for method, result in comparison.results.items() if result.error is None]
    labels = [comparison.results[method].label for method in methods]
    ranks: dict[str, dict[str, int]] = {}
    titles: dict[str, str] = {}
    for method in methods:
        for item in comparison.top(method):
            passage_id = item.passage.passage_id
            ranks.setdefault(passage_id, {})[method] = item.rank
            titles[passage_id] = item.passage.title or item.passage.text[:60]

    figure = go.Figure()
    for passage_id, by_method in ranks.items():
        y = [by_method.get(method) for method in methods]
        figure.add_trace(
            go.Scatter(
                x=labels,
                y=y,
                mode="lines+markers",
                name=passage_id,
                connectgaps=False,
                hovertemplate=f"{passage_id}<br>{_hover_text(titles[passage_id])}<br>rank %{{y}}<extra></extra>",
            )
        )
    figure.update_yaxes(autorange="reversed", title="rank", dtick=1, range=[comparison.top_k + 0.5, 0.5])
    figure.update_layout(
        title="Rank shift across methods (top k)",
        showlegend=False,
        height=420,
        margin={"l": 40, "r": 20, "t": 50, "b": 40},
    )
    return figure


def latency_figure(comparison: Comparison) -> go.Figure:
    """Draw a bar per method with its latency in milliseconds."""
    results = [result for result in comparison.results.values() if result.error is None]
    figure = go.Figure(
        go.Bar(
            x=[result.label for result in results],
            y=[result.latency_ms for result in results],
            text=[f"{result.latency_ms:.1f} ms" for result in results],
            textposition="auto",
        )
    )
    figure.update_layout(
        title="Latency per method",
        yaxis_title="milliseconds",
        height=320,
        margin={"l": 40, "r": 20, "t": 50, "b": 40},
    )
    return figure


def _hover_text(text: str) -> str:
    # Plotly hover labels accept a small HTML subset, so angle brackets are escaped.
    return text.replace("<", "&lt;").replace(">", "&gt;")
