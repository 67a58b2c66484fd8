"""BEIR dataset folders: the corpus path, the queries and the qrels of one split.

A BEIR folder contains `corpus.jsonl` (or `corpus.jsonl.gz`), `queries.jsonl` and
`qrels/{split}.tsv`, as in the datasets of Thakur et al., "BEIR: A Heterogeneous
Benchmark for Zero-shot Evaluation of Information Retrieval Models" (2021). The corpus
is only located here; `reranklab.loading` reads it like any other JSONL upload.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

from reranklab.errors import DocumentLoadError
from reranklab.loading.jsonl import _json_type_name
from reranklab.trec import Qrels, _cap_problems, _count, _decode_lines, read_qrels

logger = logging.getLogger(__name__)

_QUERY_ID_KEYS = ("_id", "id", "query_id")
_QUERIES_FORMAT_HELP = (
    'Expected JSONL lines {"_id": ..., "text": ...} or TSV lines '
    "'query_id<TAB>text'."
)
# Column names of a TSV queries header. A first line made of them is skipped.
_HEADER_ID_NAMES = frozenset({"_id", "id", "qid", "query_id", "query-id"})
_HEADER_TEXT_NAMES = frozenset({"text", "query", "query_text"})
# Number of missing query ids quoted in the warning about judged queries without text.
_MAX_QUOTED_IDS = 5


@dataclass
class BeirDataset:
    """The parts of a BEIR folder that evaluation needs.

    Attributes:
        folder: the dataset folder.
        corpus_path: `corpus.jsonl`, or `corpus.jsonl.gz` when there is no
            `corpus.jsonl`.
        split: the qrels split, such as "test".
        queries: query_id -> query text, for every query in `queries.jsonl`, judged or
            not.
        qrels: the judgments of the split, query_id -> doc_id -> grade.
        warnings: problems that did not stop the load, one sentence each.
    """

    folder: Path
    corpus_path: Path
    split: str
    queries: dict[str, str]
    qrels: Qrels
    warnings: list[str] = field(default_factory=list)

    @property
    def judged_queries(self) -> dict[str, str]:
        """query_id -> text for the queries that have both a text and judgments.

        These are the queries that can be evaluated, in qrels order.
        """
        return {
            query_id: self.queries[query_id]
            for query_id in self.qrels
            if query_id in self.queries
        }


def _json_query(record: object) -> tuple[str, str] | str:
    """Return (query_id, text) from one parsed JSONL line, or why it is invalid."""
    if not isinstance(record, dict):
        return f"expected a JSON object, found {_json_type_name(record)}"
    id_key = next((key for key in _QUERY_ID_KEYS if key in record), None)
    if id_key is None:
        return "missing '_id'"
    query_id = record[id_key]
    if isinstance(query_id, bool) or not isinstance(query_id, (str, int)):
        found = _json_type_name(query_id)
        return f"{id_key!r} must be a string or an integer, found {found}"
    query_id = str(query_id).strip()
    if not query_id:
        return f"blank {id_key!r}"
    text = record.get("text")
    if not isinstance(text, str):
        if "text" not in record:
            return "missing 'text'"
        return f"'text' must be a string, found {_json_type_name(text)}"
    text = text.strip()
    if not text:
        return "blank 'text'"
    return query_id, text


def _tsv_query(line: str) -> tuple[str, str] | str:
    """Return (query_id, text) from one TSV line, or why it is invalid."""
    if "\t" not in line:
        return "expected 'query_id<TAB>text', found no tab"
    query_id, text = (part.strip() for part in line.split("\t", 1))
    if not query_id:
        return "blank query id"
    if not text:
        return "blank text"
    return query_id, text


def _is_tsv_header(line: str) -> bool:
    parts = [part.strip().lower() for part in line.split("\t")]
    if len(parts) != 2:
        return False
    return parts[0] in _HEADER_ID_NAMES and parts[1] in _HEADER_TEXT_NAMES


def read_queries(data: str | bytes, source: str) -> tuple[dict[str, str], list[str]]:
    """Parse queries from BEIR JSONL (`{"_id": ..., "text": ...}`) or TSV (`id<TAB>text`).

    The format is JSONL when the first non-blank line starts with "{", else TSV with an
    optional `query_id<TAB>text` header. Invalid lines are skipped with one warning
    each, such as "queries.jsonl line 3: missing 'text'; skipped". Only the first 10 are
    listed, then one warning counts the rest. A query id seen twice keeps its first
    line. Other JSON keys, such as BEIR's "metadata", are ignored.

    Args:
        data: the file content, as text or as bytes in UTF-8 (with or without a byte
            order mark). Bytes that are not valid UTF-8 are read as Windows-1252 with a
            warning.
        source: the file name, used in warnings and errors.

    Returns:
        query_id -> text, in file order, and the warnings.

    Raises:
        DocumentLoadError: the input is empty, binary or has no valid line.
    """
    lines, warnings = _decode_lines(data, source)
    numbered = [
        (line_number, line)
        for line_number, line in enumerate(lines, start=1)
        if line.strip()
    ]
    is_jsonl = bool(numbered) and numbered[0][1].lstrip().startswith("{")
    if numbered and not is_jsonl and _is_tsv_header(numbered[0][1]):
        numbered = numbered[1:]

    queries: dict[str, str] = {}
    first_line_of_query: dict[str, int] = {}
    problems = []
    for line_number, line in numbered:
        where = f"{source} line {line_number}"
        if is_jsonl:
            try:
                parsed = _json_query(json.loads(line))
            except json.JSONDecodeError as exc:
                parsed = f"invalid JSON ({exc.msg} at column {exc.colno})"
        else:
            parsed = _tsv_query(line)
        if isinstance(parsed, str):
            problems.append(f"{where}: {parsed}; skipped")
            continue

        query_id, text = parsed
        first_line = first_line_of_query.setdefault(query_id, line_number)
        if first_line != line_number:
            problems.append(
                f"{where}: duplicate query id {query_id!r}, first seen on line "
                f"{first_line}; skipped"
            )
            continue
        queries[query_id] = text

    warnings.extend(_cap_problems(source, problems))
    if not queries:
        if not problems:
            raise DocumentLoadError(
                source, f"is empty or contains only blank lines. {_QUERIES_FORMAT_HELP}"
            )
        first = problems[0].removeprefix(f"{source} ").removesuffix("; skipped")
        reason = f"has no valid line; {first}"
        if len(problems) > 1:
            reason += f" (and {_count(len(problems) - 1, 'more invalid line')})"
        raise DocumentLoadError(source, f"{reason}. {_QUERIES_FORMAT_HELP}")
    return queries, warnings


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DocumentLoadError(
            str(path), f"could not be read ({exc.strerror}); check its permissions"
        ) from exc


def _find_corpus(folder: Path) -> Path:
    for name in ("corpus.jsonl", "corpus.jsonl.gz"):
        if (folder / name).is_file():
            return folder / name
    raise DocumentLoadError(
        str(folder / "corpus.jsonl"),
        "not found, and neither is corpus.jsonl.gz. A BEIR folder contains the corpus "
        "as corpus.jsonl or corpus.jsonl.gz; choose the folder that contains it.",
    )


def _find_qrels(folder: Path, split: str) -> Path:
    qrels_folder = folder / "qrels"
    if not qrels_folder.is_dir():
        raise DocumentLoadError(
            str(qrels_folder),
            f"folder not found. A BEIR folder contains the judgments as qrels/{split}.tsv.",
        )
    path = qrels_folder / f"{split}.tsv"
    if path.is_file():
        return path

    splits = sorted(tsv.stem for tsv in qrels_folder.glob("*.tsv") if tsv.is_file())
    if splits:
        found = "the splits found are " + ", ".join(repr(name) for name in splits)
    else:
        found = "it contains no .tsv file"
    raise DocumentLoadError(
        str(path), f"not found; {found}. Choose one of those splits or add the file."
    )


def _missing_queries_warning(
    qrels_path: Path, queries_path: Path, missing: list[str]
) -> str:
    quoted = ", ".join(repr(query_id) for query_id in missing[:_MAX_QUOTED_IDS])
    if len(missing) > _MAX_QUOTED_IDS:
        quoted += ", ..."
    return (
        f"{qrels_path}: {_count(len(missing), 'judged query', 'judged queries')} "
        f"missing from {queries_path.name} ({quoted}); they have no text, so they "
        "cannot be searched or evaluated"
    )


def load_beir(folder: str | PathLike, split: str = "test") -> BeirDataset:
    """Read the queries and one split's qrels of a BEIR folder, and locate its corpus.

    Args:
        folder: a folder with `corpus.jsonl` or `corpus.jsonl.gz`, `queries.jsonl`
            and `qrels/{split}.tsv`. `corpus.jsonl` is used when both corpus files
            exist.
        split: the qrels file to read, such as "test", "dev" or "train".

    Returns:
        The dataset. Its warnings list invalid lines of the queries and qrels files,
        and the judged queries that have no text in `queries.jsonl`. The corpus is not
        read, so qrels doc ids are not checked against it.

    Raises:
        DocumentLoadError: a file is missing (the error names its path, and lists the
            splits found under `qrels/` when the split is missing), or the queries or
            qrels file has no valid line.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DocumentLoadError(
            str(folder), "folder not found; give the path of a BEIR dataset folder"
        )
    corpus_path = _find_corpus(folder)
    queries_path = folder / "queries.jsonl"
    if not queries_path.is_file():
        raise DocumentLoadError(
            str(queries_path),
            "not found. A BEIR folder contains the queries as queries.jsonl.",
        )
    qrels_path = _find_qrels(folder, split)

    queries, warnings = read_queries(_read_bytes(queries_path), str(queries_path))
    qrels, qrels_warnings = read_qrels(_read_bytes(qrels_path), str(qrels_path))
    warnings.extend(qrels_warnings)

    missing = [query_id for query_id in qrels if query_id not in queries]
    if missing:
        warnings.append(_missing_queries_warning(qrels_path, queries_path, missing))
    logger.info(
        "loaded BEIR folder %s, split %s: %d queries, %d judged, %d judgments",
        folder,
        split,
        len(queries),
        len(qrels),
        sum(len(judged) for judged in qrels.values()),
    )
    return BeirDataset(
        folder=folder,
        corpus_path=corpus_path,
        split=split,
        queries=queries,
        qrels=qrels,
        warnings=warnings,
    )
