"""Plotly figures of a comparison: rank shifts across methods and latency per method."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.colors import qualitative

from reranklab.compare import Comparison


def rank_shift_figure(comparison: Comparison) -> go.Figure:
    """Draw one line per passage through its rank in each method.

    The x axis lists the methods that returned a ranking, BM25 first; the y axis is the
    rank, 1 at the top. Every passage in some method's top k gets a line, and a rank
    below the top k is drawn on one extra row labelled "> k", so each line is whole.
    """
    methods = [method for method, result in comparison.results.items() if result.error is None]
    labels = [comparison.results[method].label for method in methods]
    outside = comparison.top_k + 1
    full_ranks = {
        method: {item.passage.passage_id: item.rank for item in comparison.results[method].ranking}
        for method in methods
    }
    titles: dict[str, str] = {}
    for method in methods:
        for item in comparison.top(method):
            titles.setdefault(item.passage.passage_id, item.passage.title or item.passage.text[:60])

    palette = qualitative.Alphabet
    figure = go.Figure()
    for number, (passage_id, title) in enumerate(titles.items()):
        ranks = [full_ranks[method].get(passage_id) for method in methods]
        figure.add_trace(
            go.Scatter(
                x=labels,
                y=[outside if rank is None or rank > comparison.top_k else rank for rank in ranks],
                customdata=[str(rank) if rank is not None else "not ranked" for rank in ranks],
                mode="lines+markers",
                name=passage_id,
                line={"color": palette[number % len(palette)], "width": 2},
                hovertemplate=f"{passage_id}<br>{_hover_text(title)}<br>rank %{{customdata}}<extra></extra>",
            )
        )
    tick_values = list(range(1, outside + 1))
    tick_labels = [str(rank) for rank in range(1, outside)] + [f"> {comparison.top_k}"]
    figure.update_yaxes(
        autorange=False, range=[outside + 0.5, 0.5], title="rank",
        tickvals=tick_values, ticktext=tick_labels,
    )
    figure.update_layout(
        title="Rank shift across methods",
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
