"""RerankLab: the Streamlit entry point. It sets shared state and routes to the pages.

    streamlit run app.py
"""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from components.sidebar import render_settings
from components.state import init_state

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
# bm25s sets its own logger to DEBUG, which would log every index build.
logging.getLogger("bm25s").setLevel(logging.WARNING)

st.set_page_config(page_title="RerankLab", page_icon="🔎", layout="wide")
st.html(f"<style>{(Path(__file__).parent / 'assets' / 'style.css').read_text(encoding='utf-8')}</style>")

init_state()
# The pages live in app_pages/, not pages/: Streamlit 1.67 runs a folder named pages/ as
# an old-style multipage app, and a first visit to /evaluate then skipped this file.
page = st.navigation(
    [
        st.Page("app_pages/compare.py", title="Compare", icon="🔎", default=True),
        st.Page("app_pages/evaluate.py", title="Evaluate", icon="📊"),
        st.Page("app_pages/models.py", title="Models", icon="🧠"),
    ]
)
render_settings()
page.run()
