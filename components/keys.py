"""API keys for the cloud services, from the sidebar, `.streamlit/secrets.toml` or the environment.

A key typed in the sidebar lives in this browser session's state only. Keys are never
logged, shown or written anywhere by the app.
"""

from __future__ import annotations

import streamlit as st

SECRET_NAMES = {"cohere": ("COHERE_API_KEY",), "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY")}


def secret_key(service: str) -> str:
    """Return the service's key from `.streamlit/secrets.toml`, or "" when there is none."""
    for name in SECRET_NAMES[service]:
        try:
            value = st.secrets.get(name, "")
        except (FileNotFoundError, OSError, ValueError):
            # No secrets.toml, or one that does not parse: environment variables still apply.
            return ""
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def session_or_secret_key(service: str) -> str:
    """Return the key typed in the sidebar, else the one in secrets.toml, else ""."""
    typed = st.session_state.get(f"{service}_key", "").strip()
    return typed or secret_key(service)
