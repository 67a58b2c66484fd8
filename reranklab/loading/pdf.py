"""PDF, read with pypdf: one document per file."""

from __future__ import annotations

import io
import logging

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError

from reranklab.errors import DocumentLoadError
from reranklab.loading.common import (
    LoadedFile,
    _metadata_title,
    _normalize_whitespace,
    _number_list,
    _single_document,
)

logger = logging.getLogger(__name__)


def _load_pdf(name: str, data: bytes) -> LoadedFile:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise DocumentLoadError(
                name, "is encrypted; remove the password and upload again"
            )
        pages = list(reader.pages)
    except DocumentLoadError:
        raise
    except DependencyError as exc:
        raise DocumentLoadError(
            name,
            "is encrypted with AES, and pypdf needs the 'cryptography' package to "
            "read it even without a password. Install it, or remove the encryption "
            "and upload again.",
        ) from exc
    except Exception as exc:  # noqa: BLE001 - pypdf raises many types on damaged files
        raise DocumentLoadError(
            name,
            f"is not a readable PDF ({exc}); check that the file is complete, or "
            "export it again as PDF",
        ) from exc

    warnings = []
    failed_pages = []
    page_texts = []
    for page_number, page in enumerate(pages, start=1):
        try:
            page_text = page.extract_text()
        except Exception:  # noqa: BLE001 - one damaged page must not lose the others
            logger.debug(
                "%s: text extraction failed on page %d",
                name,
                page_number,
                exc_info=True,
            )
            failed_pages.append(page_number)
            continue
        page_text = _normalize_whitespace(page_text)
        if page_text:
            page_texts.append(page_text)

    if failed_pages:
        warnings.append(
            f"{_number_list('page', failed_pages)}: text extraction failed; skipped"
        )
    if not page_texts:
        raise DocumentLoadError(
            name,
            "has no extractable text; it may be a scanned image, run OCR first",
        )
    title = _metadata_title(_pdf_title(reader))
    return _single_document(name, "\n\n".join(page_texts), title, warnings)


def _pdf_title(reader: PdfReader) -> str:
    try:
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except Exception:  # noqa: BLE001 - damaged metadata only costs the title
        logger.debug("cannot read the PDF metadata", exc_info=True)
        return ""
    return title if isinstance(title, str) else ""
