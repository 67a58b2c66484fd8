"""A corpus: documents read from files, split into passages and indexed with BM25."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reranklab.bm25 import BM25Index, BM25Settings
from reranklab.chunking import ChunkingSettings, split_documents
from reranklab.documents import Document, Passage
from reranklab.errors import DocumentLoadError
from reranklab.loading import MAX_LISTED_PROBLEMS, CsvColumns, LoadedFile, load_file

logger = logging.getLogger(__name__)

# Called as progress(fraction_done, message) with fraction_done in [0, 1].
ProgressCallback = Callable[[float, str], None]


@dataclass
class FileReport:
    """Outcome of reading one input file.

    Attributes:
        source: the file name.
        documents: documents read from it.
        passages: passages those documents were split into.
        characters: characters of document text read.
        warnings: non-fatal problems, each naming the line, row or value.
        error: why the file could not be read at all; None when it was read.
        duplicates: documents whose text repeats an earlier document's text. They are
            not counted in `documents` when `Corpus.from_files` skipped them.
    """

    source: str
    documents: int = 0
    passages: int = 0
    characters: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    duplicates: int = 0


@dataclass
class Corpus:
    """Documents, their passages and the BM25 index over the passages.

    Build one with `Corpus.from_files` or `Corpus.from_documents`.
    """

    documents: list[Document]
    passages: list[Passage]
    bm25: BM25Index
    chunking: ChunkingSettings
    reports: list[FileReport] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        """Return a sha256 of the passage ids and texts, for cache keys."""
        digest = hashlib.sha256()
        for passage in self.passages:
            digest.update(passage.passage_id.encode("utf-8") + b"\0")
            digest.update(passage.full_text.encode("utf-8") + b"\0")
        return digest.hexdigest()

    @property
    def document_id(self) -> str:
        """Return 16 hex digits of a sha256 of the document ids and texts.

        Unlike `fingerprint` it does not change with the passage settings, so judgments
        stored under it stay with the corpus when the passages are split differently.
        """
        digest = hashlib.sha256()
        for document in self.documents:
            digest.update(document.doc_id.encode("utf-8") + b"\0")
            digest.update(document.title.encode("utf-8") + b"\0")
            digest.update(document.text.encode("utf-8") + b"\0")
        return digest.hexdigest()[:16]

    def passage(self, passage_id: str) -> Passage:
        return self._by_id[passage_id]

    @property
    def _by_id(self) -> dict[str, Passage]:
        cached = self.__dict__.get("_passage_index")
        if cached is None:
            cached = {passage.passage_id: passage for passage in self.passages}
            self.__dict__["_passage_index"] = cached
        return cached

    @classmethod
    def from_documents(
        cls,
        documents: Sequence[Document],
        chunking: ChunkingSettings = ChunkingSettings(),
        bm25: BM25Settings = BM25Settings(),
        reports: list[FileReport] | None = None,
    ) -> Corpus:
        """Split documents into passages and index them.

        Raises:
            ValueError: when the documents give no passage at all.
        """
        passages = split_documents(documents, chunking)
        index = BM25Index.build(passages, bm25)
        return cls(list(documents), passages, index, chunking, reports or [])

    @classmethod
    def from_files(
        cls,
        files: Iterable[tuple[str, bytes]],
        chunking: ChunkingSettings = ChunkingSettings(),
        bm25: BM25Settings = BM25Settings(),
        csv_columns: dict[str, CsvColumns] | None = None,
        max_bytes: int | None = None,
        progress: ProgressCallback | None = None,
        unopened: Sequence[FileReport] = (),
        skip_duplicates: bool = True,
    ) -> Corpus:
        """Read (name, content) pairs, split and index every readable file.

        A file that cannot be read gets a report with its error and the others are still
        indexed. Document ids that repeat across files get a `~2`, `~3`... suffix and a
        warning, so every passage id stays unique. A document whose text, with whitespace
        collapsed, equals an earlier document's text is a duplicate: it gets a warning
        and, with `skip_duplicates`, is left out so that it is indexed and counted once.

        Args:
            files: file names and their bytes.
            chunking: passage size and overlap.
            bm25: variant, parameters and tokenizer of the index.
            csv_columns: per CSV file name, the text and title columns to read.
            max_bytes: files larger than this are rejected; None means no limit.
            progress: called with the fraction done and a message.
            unopened: reports of files that could not even be opened; they are listed
                first in `reports` and in the error.
            skip_duplicates: leave duplicate documents out. Pass False for an evaluation
                corpus, whose qrels may name any of the copies.

        Raises:
            DocumentLoadError: when no file could be read (source "upload").
        """
        files = list(files)
        reports: list[FileReport] = list(unopened)
        documents: list[Document] = []
        seen_ids: dict[str, int] = {}
        seen_texts: dict[bytes, str] = {}

        for number, (name, data) in enumerate(files, start=1):
            if progress is not None:
                progress(0.5 * (number - 1) / max(len(files), 1), f"Reading {name}")
            columns = (csv_columns or {}).get(name)
            try:
                loaded = load_file(name, data, csv_columns=columns, max_bytes=max_bytes)
            except DocumentLoadError as exc:
                logger.warning("skipping %s: %s", name, exc.reason)
                reports.append(FileReport(source=name, error=exc.reason))
                continue
            reports.append(_add_documents(loaded, documents, seen_ids, seen_texts, skip_duplicates))

        if not documents:
            problems = "; ".join(f"{r.source}: {r.error}" for r in reports if r.error) or "no files given"
            raise DocumentLoadError("upload", f"no file could be read ({problems})")

        if progress is not None:
            progress(0.5, "Splitting documents into passages")
        passages = split_documents(documents, chunking)
        counts: dict[str, int] = {}
        for passage in passages:
            counts[passage.doc_id] = counts.get(passage.doc_id, 0) + 1
        source_of = {document.doc_id: document.source for document in documents}
        for report in reports:
            report.passages = sum(n for doc_id, n in counts.items() if source_of[doc_id] == report.source)

        if progress is not None:
            progress(0.75, f"Indexing {len(passages):,} passages with BM25")
        index = BM25Index.build(passages, bm25)
        if progress is not None:
            progress(1.0, "Indexed")
        return cls(documents, passages, index, chunking, reports)

    @classmethod
    def from_paths(cls, paths: Iterable[str | Path], **kwargs) -> Corpus:
        """Read files from disk and build the corpus as `from_files` does.

        A path that cannot be opened gets a report with the OS error.
        """
        files: list[tuple[str, bytes]] = []
        unreadable: list[FileReport] = []
        for path in paths:
            path = Path(path)
            try:
                files.append((path.name, path.read_bytes()))
            except OSError as exc:
                unreadable.append(FileReport(source=str(path), error=f"cannot open: {exc.strerror}"))
        return cls.from_files(files, unopened=unreadable, **kwargs)


def _add_documents(
    loaded: LoadedFile,
    documents: list[Document],
    seen_ids: dict[str, int],
    seen_texts: dict[bytes, str],
    skip_duplicates: bool,
) -> FileReport:
    report = FileReport(source=loaded.source, warnings=list(loaded.warnings))
    renamed = 0
    duplicates: list[str] = []
    for document in loaded.documents:
        text_key = hashlib.sha1(" ".join(document.text.split()).encode("utf-8")).digest()
        original = seen_texts.get(text_key)
        if original is None:
            seen_texts[text_key] = document.doc_id
        else:
            duplicates.append(f"{document.doc_id} (same text as {original})")
            if skip_duplicates:
                continue
        count = seen_ids.get(document.doc_id, 0) + 1
        seen_ids[document.doc_id] = count
        if count > 1:
            renamed += 1
            document = Document(
                doc_id=f"{document.doc_id}~{count}",
                text=document.text,
                title=document.title,
                source=loaded.source,
            )
        elif document.source != loaded.source:
            document = Document(document.doc_id, document.text, document.title, loaded.source)
        documents.append(document)
        report.documents += 1
        report.characters += len(document.text)
    if renamed:
        report.warnings.append(
            f"{renamed} document ids were already used by an earlier file; they got a ~N suffix"
        )
    if duplicates:
        report.duplicates = len(duplicates)
        listed = ", ".join(duplicates[:MAX_LISTED_PROBLEMS])
        if len(duplicates) > MAX_LISTED_PROBLEMS:
            listed += f" and {len(duplicates) - MAX_LISTED_PROBLEMS} more"
        outcome = "skipped, so each text is indexed once" if skip_duplicates else "kept"
        report.warnings.append(f"{len(duplicates)} duplicate documents {outcome}: {listed}")
    return report
