"""Judgment panel: grade the passages shown for a query from 0 to 3, saved in SQLite."""

from __future__ import annotations

import logging

import pandas as pd
import streamlit as st

from reranklab.compare import Comparison
from reranklab.corpus import Corpus
from reranklab.judgments import JUDGMENTS_FILE_NAME, JudgmentStore, default_data_dir

logger = logging.getLogger(__name__)

GRADES = [0, 1, 2, 3]
GRADE_HELP = "0 not relevant, 1 related, 2 relevant, 3 highly relevant. Clear the cell to remove a judgment."


@st.cache_resource
def _store_at(path: str) -> JudgmentStore:
    return JudgmentStore(path)


def judgment_store() -> JudgmentStore:
    """Return the store at the default path ($RERANKLAB_DATA_DIR or the user data folder).

    The cache is keyed by the path, so a changed RERANKLAB_DATA_DIR gets its own store.
    """
    return _store_at(str(default_data_dir() / JUDGMENTS_FILE_NAME))


def render_judgments(comparison: Comparison, corpus: Corpus) -> None:
    """Draw an editable table of every passage in some column's top k, with its stored grade."""
    store = judgment_store()
    corpus_id = corpus.document_id
    with st.expander("Judge these passages (grades 0–3, saved for evaluation)"):
        shown: dict[str, dict] = {}
        for method, result in comparison.results.items():
            for item in comparison.top(method) if result.error is None else []:
                row = shown.setdefault(
                    item.passage.passage_id,
                    {
                        "passage_id": item.passage.passage_id,
                        "doc_id": item.passage.doc_id,
                        "title": item.passage.title,
                        "text": " ".join(item.passage.text.split())[:200],
                        "ranks": [],
                    },
                )
                row["ranks"].append(f"{result.label} #{item.rank}")
        if not shown:
            st.info("No passages to judge for this query.")
            return

        stored = store.grades(corpus_id, comparison.query)
        table = pd.DataFrame(
            [
                {"grade": stored.get(passage_id), **row, "ranks": ", ".join(row["ranks"])}
                for passage_id, row in shown.items()
            ]
        )
        table["grade"] = table["grade"].astype("Int64")
        edited = st.data_editor(
            table,
            hide_index=True,
            width="stretch",
            key=f"judgments_{corpus_id}_{abs(hash(comparison.query))}",
            disabled=["passage_id", "doc_id", "title", "text", "ranks"],
            column_config={
                "grade": st.column_config.SelectboxColumn("grade", options=GRADES, help=GRADE_HELP),
                "text": st.column_config.TextColumn("text", width="large"),
            },
        )
        changed = 0
        for row in edited.itertuples(index=False):
            grade = None if pd.isna(row.grade) else int(row.grade)
            if stored.get(row.passage_id) != grade:
                store.set_grade(corpus_id, comparison.query, row.passage_id, row.doc_id, grade)
                changed += 1
        if changed:
            logger.info("saved %d judgments for corpus %s", changed, corpus_id)

        judged = len(store.queries(corpus_id))
        st.caption(f"Judged queries for this corpus: {judged}. Stored in {store.path}.")
        st.download_button(
            "Export judgments as TREC qrels",
            store.export_qrels(corpus_id, level="passage"),
            file_name="judgments.qrels",
            mime="text/plain",
        )
