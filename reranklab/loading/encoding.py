"""Decode text files, and reject binary files uploaded as text.

The text, CSV and JSONL readers decode with `_decode_text`. The HTML reader only runs
the binary check, because BeautifulSoup detects the encoding itself.
"""

from __future__ import annotations

import codecs

from reranklab.errors import DocumentLoadError

# Byte order marks. UTF-32 comes before UTF-16 because the UTF-32 LE mark begins with
# the UTF-16 LE mark.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)

# C0 control bytes that do not occur in ordinary text. Tab, LF, FF and CR are excluded.
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13)) + b"\x7f"
# Share of control bytes, in the first _BINARY_SAMPLE_BYTES, above which a file without
# NUL bytes still counts as binary. Text files rarely contain any, so the threshold is a
# heuristic with a wide margin rather than a measured value.
_MAX_CONTROL_SHARE = 0.10
_BINARY_SAMPLE_BYTES = 65_536


def _byte_order_mark(data: bytes) -> tuple[bytes, str, str] | None:
    for mark, codec, label in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            return mark, codec, label
    return None


def _reject_binary(name: str, data: bytes) -> None:
    """Raise DocumentLoadError if `data` has no byte order mark and looks binary."""
    if _byte_order_mark(data) is not None:
        return
    if b"\x00" in data:
        raise DocumentLoadError(
            name,
            "contains NUL bytes, so it is a binary file and not text. If it is UTF-16 "
            "text without a byte order mark, save it as UTF-8 and upload it again.",
        )

    sample = data[:_BINARY_SAMPLE_BYTES]
    control_count = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if control_count > _MAX_CONTROL_SHARE * len(sample):
        raise DocumentLoadError(
            name,
            f"looks like a binary file and not text ({control_count} of its first "
            f"{len(sample)} bytes are control characters); upload a text file",
        )


def _decode_legacy(data: bytes) -> str:
    """Decode bytes that are not UTF-8 as Windows-1252, or as Latin-1 if that fails.

    Windows-1252 leaves five byte values undefined, and Latin-1 accepts every byte.
    """
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _decode_text(name: str, data: bytes) -> tuple[str, list[str]]:
    """Decode a text file and return the text with any warning about its encoding.

    A UTF-8, UTF-16 or UTF-32 byte order mark selects that encoding. Without one, the
    file must not look binary, and it is read as UTF-8, or as Windows-1252 with a
    warning if it is not valid UTF-8.

    Raises:
        DocumentLoadError: the file is binary, or is not valid in the encoding of its
            byte order mark.
    """
    bom = _byte_order_mark(data)
    if bom is not None:
        _, codec, label = bom
        try:
            return data.decode(codec), []
        except UnicodeDecodeError as exc:
            raise DocumentLoadError(
                name,
                f"starts with a {label} byte order mark but is not valid {label} "
                f"({exc.reason} at byte {exc.start}); save it as UTF-8 and upload it "
                "again",
            ) from exc

    _reject_binary(name, data)
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        first_invalid = exc.start

    warning = (
        f"not valid UTF-8 (first invalid byte at offset {first_invalid}), so it was "
        "decoded as Windows-1252 (Latin-1). If characters look wrong, save the file as "
        "UTF-8 and upload it again."
    )
    return _decode_legacy(data), [warning]
