"""Reusable Streamlit pieces of the RerankLab app."""
