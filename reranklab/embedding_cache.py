"""On-disk cache of passage embeddings, keyed by a hash of the model and the passage texts.

Embeddings are stored as one `.npy` file per (model, corpus) pair under
`$RERANKLAB_CACHE_DIR/embeddings`, or `~/.cache/reranklab/embeddings` by default. A file
holds a float32 array of shape (n_passages, dim) in the order of the texts it was keyed on.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

CACHE_DIR_ENV = "RERANKLAB_CACHE_DIR"


def default_cache_dir() -> Path:
    """Return `$RERANKLAB_CACHE_DIR`, else `$XDG_CACHE_HOME/reranklab`, else `~/.cache/reranklab`."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "reranklab"


class EmbeddingCache:
    """Stores and finds passage embedding matrices on disk.

    Args:
        directory: folder for the `.npy` files; created on first save. Defaults to
            `default_cache_dir() / "embeddings"`.
        seed_directories: read-only folders searched after `directory`, such as the
            embeddings of the sample corpus that ship in `assets/embeddings`.
    """

    def __init__(
        self,
        directory: str | os.PathLike | None = None,
        seed_directories: Sequence[str | os.PathLike] = (),
    ) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir() / "embeddings"
        self.seed_directories = [Path(folder) for folder in seed_directories]

    @staticmethod
    def key(model_fingerprint: str, texts: Sequence[str]) -> str:
        """Return the sha256 hex digest of the model fingerprint and the texts, in order."""
        digest = hashlib.sha256(model_fingerprint.encode("utf-8"))
        for text in texts:
            encoded = text.encode("utf-8")
            digest.update(len(encoded).to_bytes(8, "little"))
            digest.update(encoded)
        return digest.hexdigest()

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.npy"

    def load(self, key: str, expected_rows: int) -> np.ndarray | None:
        """Return the cached matrix for `key`, or None when it is missing or unreadable."""
        candidates = [self.path(key), *(folder / f"{key}.npy" for folder in self.seed_directories)]
        path = next((candidate for candidate in candidates if candidate.exists()), None)
        if path is None:
            return None
        try:
            embeddings = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            logger.warning("ignoring unreadable embedding cache file %s: %s", path, exc)
            return None
        if embeddings.ndim != 2 or embeddings.shape[0] != expected_rows:
            logger.warning("ignoring embedding cache file %s with shape %s", path, embeddings.shape)
            return None
        return embeddings

    def save(self, key: str, embeddings: np.ndarray) -> None:
        """Write the matrix atomically, so a crash never leaves a half-written file behind.

        A failure to write is logged and otherwise ignored: the cache only saves time.
        """
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.directory, suffix=".tmp", delete=False) as handle:
                np.save(handle, np.asarray(embeddings, dtype=np.float32), allow_pickle=False)
                temporary = handle.name
            os.replace(temporary, self.path(key))
        except OSError as exc:
            logger.warning("could not write embedding cache to %s: %s", self.directory, exc)
