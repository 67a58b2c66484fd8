"""Relevance judgments (qrels) and runs in the TREC text formats.

Qrels map a query id to the grades of the judged documents (or passages). A run maps a
query id to the scores that one method gave its candidates. Both are the plain nested
dicts that `ranx.Qrels.from_dict` and `ranx.Run.from_dict` accept.

Grades are kept as the file gives them, negative ones included (some TREC collections
use -1 or -2 for junk documents). ranx 0.3.21 removes every judgment with a grade below
`rel_lvl`, which defaults to 1, before it computes a metric (`clean_qrels` in
`ranx/metrics/common.py`). So a grade of 0 or less counts as not relevant and adds no
negative gain.
"""

from __future__ import annotations

import codecs
import math
from collections import Counter
from collections.abc import Iterable
from os import PathLike
from pathlib import Path

from reranklab.errors import DocumentLoadError
from reranklab.loading.common import MAX_LISTED_PROBLEMS
from reranklab.loading.encoding import _decode_text

Qrels = dict[str, dict[str, int]]
"""query_id -> doc_id (or passage_id) -> grade, where 0 means judged not relevant."""

Run = dict[str, dict[str, float]]
"""query_id -> doc_id (or passage_id) -> score, where a higher score ranks higher."""

_TREC_QRELS_COLUMNS = "query_id iteration doc_id grade"
_BEIR_QRELS_COLUMNS = "query-id corpus-id score"
_RUN_COLUMNS = "query_id Q0 doc_id rank score tag"
_QRELS_FORMAT_HELP = (
    "Expected TREC qrels lines 'query_id 0 doc_id grade' or BEIR lines "
    "'query-id<TAB>corpus-id<TAB>score'."
)
_RUN_FORMAT_HELP = "Expected TREC run lines 'query_id Q0 doc_id rank score tag'."

# Names that a BEIR qrels header gives its last column. A first line ending in one of
# them is a header and not a judgment with an invalid grade.
_HEADER_GRADE_NAMES = frozenset(
    {"score", "relevance", "rel", "label", "grade", "judgment", "judgement"}
)


def _decode_lines(data: str | bytes, source: str) -> tuple[list[str], list[str]]:
    """Split the input into lines, decoding bytes first.

    Bytes are read as UTF-8 (a byte order mark is removed), or as Windows-1252
    (Latin-1) with a warning when they are not valid UTF-8. A UTF-16 or UTF-32 byte
    order mark selects that encoding. Lines are split on "\\n"
    only, so line numbers match what a text editor shows.

    Raises:
        DocumentLoadError: the data is a binary file.
    """
    warnings = []
    if isinstance(data, bytes):
        # A UTF-8 byte order mark is dropped first, so that a file with the mark and a
        # stray Windows-1252 byte still falls back to Windows-1252 instead of failing.
        data = data.removeprefix(codecs.BOM_UTF8)
        text, encoding_warnings = _decode_text(source, data)
        warnings.extend(f"{source}: {warning}" for warning in encoding_warnings)
    else:
        text = data.removeprefix("\ufeff")
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    return lines, warnings


def _split_fields(line: str) -> list[str]:
    """Split a line on tabs if it contains one, else on runs of whitespace.

    Splitting on tabs keeps ids that contain spaces (documents named after files such
    as "my notes.txt") and shows an empty field as a blank id. Empty fields after the
    last tab are trailing whitespace and are dropped.
    """
    if "\t" not in line:
        return line.split()
    fields = [field.strip() for field in line.split("\t")]
    while fields and not fields[-1]:
        fields.pop()
    return fields


def _parse_int(text: str) -> int | None:
    """Parse an integer, also written as an integral float such as "2.0"."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    if not value.is_integer():
        return None
    return int(value)


def _blank_field(fields: list[str], names: dict[int, str]) -> str | None:
    for index, name in names.items():
        if not fields[index]:
            return f"blank {name}"
    return None


def _count(number: int, singular: str, plural: str | None = None) -> str:
    """Format a count with its noun, such as "1 line" or "3 lines"."""
    if number == 1:
        return f"1 {singular}"
    return f"{number} {plural or singular + 's'}"


def _cap_problems(source: str, problems: list[str]) -> list[str]:
    """List the first MAX_LISTED_PROBLEMS problems and count the rest in one line."""
    listed = problems[:MAX_LISTED_PROBLEMS]
    rest = len(problems) - MAX_LISTED_PROBLEMS
    if rest > 0:
        listed.append(f"{source}: ... and {_count(rest, 'more problem line')}")
    return listed


def _no_valid_line(source: str, problems: list[str], help_text: str) -> DocumentLoadError:
    if not problems:
        reason = f"is empty or contains only blank lines. {help_text}"
        return DocumentLoadError(source, reason)
    first = problems[0].removeprefix(f"{source} ").removesuffix("; skipped")
    reason = f"has no valid line; {first}"
    if len(problems) > 1:
        reason += f" (and {_count(len(problems) - 1, 'more invalid line')})"
    return DocumentLoadError(source, f"{reason}. {help_text}")


def _qrels_column_count(rows: list[tuple[int, list[str]]]) -> int:
    """Return 4 (TREC) or 3 (BEIR), whichever column count more lines have.

    A tie gives 4.
    """
    counts = Counter(len(fields) for _, fields in rows)
    return 3 if counts[3] > counts[4] else 4


def _is_qrels_header(fields: list[str]) -> bool:
    return (
        len(fields) in (3, 4)
        and _parse_int(fields[-1]) is None
        and fields[-1].lower() in _HEADER_GRADE_NAMES
    )


def read_qrels(data: str | bytes, source: str) -> tuple[Qrels, list[str]]:
    """Parse relevance judgments in the TREC qrels or the BEIR qrels format.

    TREC lines are `query_id iteration doc_id grade`; the iteration column is ignored.
    BEIR lines are `query-id<TAB>corpus-id<TAB>score`, after an optional header. The
    format is the column count that most lines have. Columns are split on tabs when a
    line contains one, else on runs of whitespace.

    Invalid lines are skipped with one warning each, such as "qrels.txt line 7: grade
    'x' is not an integer; skipped". Only the first 10 are listed, then one warning
    counts the rest. A document judged twice for a query with different grades keeps
    the last grade and gets a warning. Grades may be negative and are kept as given.

    Args:
        data: the file content, as text or as bytes in UTF-8 (with or without a byte
            order mark). Bytes that are not valid UTF-8 are read as Windows-1252 with a
            warning.
        source: the file name, used in warnings and errors.

    Returns:
        The qrels, in file order, and the warnings.

    Raises:
        DocumentLoadError: the input is empty, binary or has no valid line.
    """
    lines, warnings = _decode_lines(data, source)
    rows = [
        (line_number, _split_fields(line))
        for line_number, line in enumerate(lines, start=1)
        if line.strip()
    ]
    if rows and _is_qrels_header(rows[0][1]):
        rows = rows[1:]
        if not rows:
            raise DocumentLoadError(source, f"contains only a header. {_QRELS_FORMAT_HELP}")
    columns = _qrels_column_count(rows)
    if columns == 4:
        expected, id_columns = _TREC_QRELS_COLUMNS, {0: "query id", 2: "doc id"}
    else:
        expected, id_columns = _BEIR_QRELS_COLUMNS, {0: "query id", 1: "corpus id"}

    qrels: Qrels = {}
    line_of_judgment: dict[tuple[str, str], int] = {}
    problems = []
    for line_number, fields in rows:
        where = f"{source} line {line_number}"
        if len(fields) != columns:
            problems.append(
                f"{where}: expected {columns} columns ({expected}), found "
                f"{len(fields)}; skipped"
            )
            continue
        blank = _blank_field(fields, id_columns)
        if blank is not None:
            problems.append(f"{where}: {blank}; skipped")
            continue
        grade = _parse_int(fields[-1])
        if grade is None:
            problems.append(f"{where}: grade {fields[-1]!r} is not an integer; skipped")
            continue

        query_id, doc_id = fields[0], fields[-2]
        judged = qrels.setdefault(query_id, {})
        previous_line = line_of_judgment.get((query_id, doc_id))
        if previous_line is not None and judged[doc_id] != grade:
            problems.append(
                f"{where}: query {query_id!r} judges {doc_id!r} again with grade "
                f"{grade} (line {previous_line} gave {judged[doc_id]}); kept the last "
                "grade"
            )
        judged[doc_id] = grade
        line_of_judgment[(query_id, doc_id)] = line_number

    warnings.extend(_cap_problems(source, problems))
    if not qrels:
        raise _no_valid_line(source, problems, _QRELS_FORMAT_HELP)
    return qrels, warnings


def read_qrels_path(path: str | PathLike) -> tuple[Qrels, list[str]]:
    """Read a qrels file with `read_qrels`, using the path as the source name.

    Raises:
        DocumentLoadError: the file is missing or unreadable, or `read_qrels` rejects it.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise DocumentLoadError(
            str(path), "not found; check the path of the qrels file"
        ) from exc
    except OSError as exc:
        raise DocumentLoadError(
            str(path), f"could not be read ({exc.strerror}); check the path and permissions"
        ) from exc
    return read_qrels(data, str(path))


def _column_separator(ids: Iterable[str]) -> str:
    """Return the column separator that keeps these ids readable: " " or a tab.

    TREC tools split on any whitespace, so a space is the standard separator. An id
    that contains whitespace forces tabs, which `read_qrels` and `read_run` split on.

    Raises:
        ValueError: an id is blank, starts or ends with whitespace (the readers strip
            it), or contains a tab or a line break.
    """
    separator = " "
    for identifier in ids:
        if not identifier.strip():
            raise ValueError(f"cannot write a blank id {identifier!r}")
        if identifier != identifier.strip():
            raise ValueError(
                f"cannot write id {identifier!r} because it starts or ends with "
                "whitespace"
            )
        if any(character in identifier for character in "\t\n\r"):
            raise ValueError(
                f"cannot write id {identifier!r} because it contains a tab or a line break"
            )
        if any(character.isspace() for character in identifier):
            separator = "\t"
    return separator


def write_qrels(qrels: Qrels) -> str:
    """Format qrels as TREC lines `query_id 0 doc_id grade`, sorted by query and doc id.

    Columns are separated by one space, or by tabs when an id contains whitespace.

    Raises:
        ValueError: an id is blank, starts or ends with whitespace, or contains a tab
            or a line break.
    """
    ids = [query_id for query_id in qrels]
    ids.extend(doc_id for judged in qrels.values() for doc_id in judged)
    separator = _column_separator(ids)

    lines = []
    for query_id in sorted(qrels):
        for doc_id in sorted(qrels[query_id]):
            grade = int(qrels[query_id][doc_id])
            lines.append(separator.join((query_id, "0", doc_id, str(grade))))
    return "".join(line + "\n" for line in lines)


def _break_ties(ranked: list[tuple[str, int, float]]) -> tuple[dict[str, float], bool]:
    """Order one query's (doc_id, rank, score) entries and make every score distinct.

    Entries are ordered by score, high to low, then by rank. A score that ties the one
    before it is lowered to the next float below that one (math.nextafter), so any
    sort on score, ranx's included, keeps the file's rank order among tied documents.
    Returns the scores in that order and whether any score changed.
    """
    ranked = sorted(ranked, key=lambda entry: (-entry[2], entry[1]))
    scores: dict[str, float] = {}
    changed = False
    previous = math.inf
    for doc_id, _, score in ranked:
        if score >= previous:
            score = math.nextafter(previous, -math.inf)
            changed = True
        scores[doc_id] = score
        previous = score
    return scores, changed


def _parse_run_line(fields: list[str]) -> tuple[int, float] | str:
    """Return the rank and score of a run line with 6 columns, or why it is invalid."""
    blank = _blank_field(fields, {0: "query id", 2: "doc id", 5: "tag"})
    if blank is not None:
        return blank
    rank = _parse_int(fields[3])
    if rank is None:
        return f"rank {fields[3]!r} is not an integer"
    try:
        score = float(fields[4])
    except ValueError:
        return f"score {fields[4]!r} is not a number"
    if not math.isfinite(score):
        return f"score {fields[4]!r} is not a finite number"
    return rank, score


def read_run(data: str | bytes, source: str) -> tuple[Run, str, list[str]]:
    """Parse a run in the TREC format, `query_id Q0 doc_id rank score tag` per line.

    Documents are ordered by score, as TREC tools do, and tied scores keep the order
    of the rank column: each tied score is lowered by the smallest float step
    (math.nextafter), so the change is about 1e-16 of the score. The Q0 column is
    ignored.

    Invalid lines are skipped with one warning each, such as "run.txt line 4: score
    'high' is not a number; skipped". Only the first 10 are listed, then one warning
    counts the rest. A document listed twice for a query keeps its first line. A file
    with several tags contains several runs, so only the lines with the first tag are
    read and one warning names the other tags.

    Args:
        data: the file content, as text or as bytes in UTF-8 (with or without a byte
            order mark). Bytes that are not valid UTF-8 are read as Windows-1252 with a
            warning.
        source: the file name, used in warnings and errors.

    Returns:
        The run, the tag of its lines (the run name) and the warnings.

    Raises:
        DocumentLoadError: the input is empty, binary or has no valid line.
    """
    lines, warnings = _decode_lines(data, source)

    entries: dict[str, list[tuple[str, int, float]]] = {}
    line_of_entry: dict[tuple[str, str], int] = {}
    problems = []
    tag = None
    other_tags: Counter[str] = Counter()
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source} line {line_number}"
        fields = _split_fields(line)
        if len(fields) != 6:
            problems.append(
                f"{where}: expected 6 columns ({_RUN_COLUMNS}), found {len(fields)}; "
                "skipped"
            )
            continue
        parsed = _parse_run_line(fields)
        if isinstance(parsed, str):
            problems.append(f"{where}: {parsed}; skipped")
            continue

        if tag is None:
            tag = fields[5]
        if fields[5] != tag:
            other_tags[fields[5]] += 1
            continue
        query_id, doc_id = fields[0], fields[2]
        first_line = line_of_entry.setdefault((query_id, doc_id), line_number)
        if first_line != line_number:
            problems.append(
                f"{where}: query {query_id!r} lists {doc_id!r} again, first on line "
                f"{first_line}; skipped"
            )
            continue
        rank, score = parsed
        entries.setdefault(query_id, []).append((doc_id, rank, score))

    if other_tags:
        names = ", ".join(repr(name) for name in list(other_tags)[:MAX_LISTED_PROBLEMS])
        skipped = _count(other_tags.total(), "line")
        warnings.append(
            f"{source}: contains {len(other_tags) + 1} runs; read only the first, "
            f"{tag!r}, and skipped {skipped} tagged {names}. Save each run in its own "
            "file to read the others."
        )
    warnings.extend(_cap_problems(source, problems))
    if not entries:
        raise _no_valid_line(source, problems, _RUN_FORMAT_HELP)

    run: Run = {}
    tied_queries = []
    for query_id, ranked in entries.items():
        run[query_id], changed = _break_ties(ranked)
        if changed:
            tied_queries.append(query_id)
    if tied_queries:
        warnings.append(
            f"{source}: {_count(len(tied_queries), 'query', 'queries')} with tied "
            "scores; the tied documents keep the order of the rank column"
        )
    return run, tag, warnings


def write_run(run: Run, name: str) -> str:
    """Format a run as TREC lines `query_id Q0 doc_id rank score name`.

    Lines are sorted by query id, then by score from high to low. Tied scores keep the
    order of `run[query_id]`. Columns are separated by one space, or by tabs when an id
    contains whitespace. Ranks start at 1 in each query. Scores are written with
    `repr`, so `read_run` reads back the same floats unless some of them tie.

    Args:
        run: the run to write.
        name: the tag column. Whitespace in it is replaced by "_", because TREC tools
            split columns on whitespace.

    Raises:
        ValueError: `name` is blank, or an id is blank, starts or ends with
            whitespace, or contains a tab or a line break.
    """
    tag = "_".join(name.split())
    if not tag:
        raise ValueError(f"the run name must not be blank, got {name!r}")
    ids = [query_id for query_id in run]
    ids.extend(doc_id for scores in run.values() for doc_id in scores)
    separator = _column_separator(ids)

    lines = []
    for query_id in sorted(run):
        ranked = sorted(run[query_id].items(), key=lambda item: -item[1])
        for rank, (doc_id, score) in enumerate(ranked, start=1):
            fields = (query_id, "Q0", doc_id, str(rank), repr(float(score)), tag)
            lines.append(separator.join(fields))
    return "".join(line + "\n" for line in lines)
