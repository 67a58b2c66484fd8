"""Exceptions raised by RerankLab.

    RerankLabError
    ├── DocumentLoadError   a file could not be read as documents
    ├── ModelLoadError      a model name or folder could not be loaded
    └── RerankError         a reranker failed on a query

Each message names the file, model or value involved and says what to do next, so the
CLI and the app can show it to the user as it is.
"""

from __future__ import annotations


class RerankLabError(Exception):
    """Base class of every error that RerankLab raises on purpose."""


class DocumentLoadError(RerankLabError):
    """Raised when a file cannot be parsed into documents.

    Args:
        source: the file name, as the user gave it.
        reason: what is wrong and what to do, in one or two sentences.
    """

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class ModelLoadError(RerankLabError):
    """Raised when a model cannot be loaded from a local folder, the cache or the Hub."""


class RerankError(RerankLabError):
    """Raised when a reranker fails on a query after its model has loaded."""
