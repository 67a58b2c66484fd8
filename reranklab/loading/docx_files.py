"""Word .docx, read with python-docx: one document per file."""

from __future__ import annotations

import io

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from reranklab.errors import DocumentLoadError
from reranklab.loading.common import LoadedFile, _metadata_title, _single_document


def _load_docx(name: str, data: bytes) -> LoadedFile:
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - zipfile, lxml and python-docx all raise
        raise DocumentLoadError(
            name,
            f"is not a valid Word .docx file ({exc}). If it is an old .doc file, save "
            "it as .docx in Word and upload it again.",
        ) from exc

    blocks = [_docx_block_text(block) for block in document.iter_inner_content()]
    text = "\n".join(block for block in blocks if block)
    title = _metadata_title(document.core_properties.title or "")
    return _single_document(name, text, title)


def _docx_block_text(block: Paragraph | Table) -> str:
    if isinstance(block, Paragraph):
        return block.text

    rows = []
    for row in block.rows:
        # row.cells repeats a horizontally merged cell once per grid column it spans.
        seen_cells = set()
        cell_texts = []
        for cell in row.cells:
            if cell._tc in seen_cells:
                continue
            seen_cells.add(cell._tc)
            inner = [_docx_block_text(item) for item in cell.iter_inner_content()]
            cell_text = "\n".join(item for item in inner if item)
            if cell_text:
                cell_texts.append(cell_text)
        if cell_texts:
            rows.append(" | ".join(cell_texts))
    return "\n".join(rows)
