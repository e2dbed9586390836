"""Format detection from the bytes: magic numbers first, then text sniffing.

The format a producer declares (``csv``, ``txt`` for a ``|`` file, ``www``...) is only a hint: the
bytes decide. Text is sniffed on a bounded sample (``ReadLimits.sample_bytes``).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import re
import zipfile
from dataclasses import replace
from itertools import islice
from pathlib import Path

from civiclake.errors import ArchiveError, FormatError
from civiclake.formats.model import DEFAULT_LIMITS, DetectedFormat, ReadLimits
from civiclake.formats.sources import ZIP_READ_ERRORS, ByteSource, FileSource, GzipSource

DELIMITER_CANDIDATES = (";", ",", "\t", "|")  # order breaks ties: `;` is the French default
_SNIFF_MAX_RECORDS = 2000
# Text outside a .csv name (a .txt in a ZIP) is a table only if this share of its records is split into as
# many fields as its first line.
_MIN_CONSISTENT_SHARE = 0.9

_MAGIC_NUMBERS: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),  # an empty archive
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "xls"),  # OLE2 compound file: legacy Excel
    (b"PAR1", "parquet"),
    (b"\x1f\x8b", "gzip"),
    (b"%PDF", "pdf"),
    (b"\x89PNG", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF8", "gif"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!", "rar"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
# C0 control bytes that never appear in a text table (tab, LF, VT, FF, CR and ESC excluded).
_CONTROL_BYTES = bytes([*range(0x01, 0x09), 0x0E, 0x0F, *range(0x10, 0x1B), *range(0x1C, 0x20)])
_NON_CONTROL_BYTES = bytes(b for b in range(256) if b not in _CONTROL_BYTES)
_MAX_CONTROL_SHARE = 0.01
_GEOJSON_MARKER = re.compile(r'"type"\s*:\s*"FeatureCollection"')
_JSON_AFTER_BRACE = '"}'
_JSON_AFTER_BRACKET = '{["-0123456789tfn]'


def detect_format(
    path: Path, declared_format: str | None = None, limits: ReadLimits = DEFAULT_LIMITS
) -> DetectedFormat:
    """Sniff what ``path`` holds. Empty files, binary garbage and undecodable text raise FormatError."""
    path = Path(path)
    source = FileSource(path)
    sample, whole = source.read_sample(limits.sample_bytes)
    if not sample:
        raise FormatError("empty file")
    magic = binary_magic(sample)
    if magic == "zip":
        return DetectedFormat(zip_kind(path))
    if magic == "gzip":
        inner = detect_source(GzipSource(path, limits), declared_format, limits)
        if inner.compression is not None:
            raise FormatError(f"{inner.compression} inside gzip is not supported")
        return replace(inner, compression="gzip")
    if magic is not None:
        return DetectedFormat(magic)
    return detect_text(sample, whole, declared_format)


def detect_source(source: ByteSource, declared_format: str | None, limits: ReadLimits) -> DetectedFormat:
    """Like detect_format for a stream (a ZIP member, a decompressed gzip); a nested ZIP is only "zip"."""
    sample, whole = source.read_sample(limits.sample_bytes)
    if not sample:
        raise FormatError("empty file")
    magic = binary_magic(sample)
    if magic == "gzip":
        return DetectedFormat("gzip", compression="gzip")
    if magic is not None:
        return DetectedFormat(magic)
    return detect_text(sample, whole, declared_format)


def _is_tar(sample: bytes) -> bool:
    # A tar header has no magic at offset 0; "ustar" sits at offset 257 (a .tar.gz, once decompressed).
    return sample[257:262] == b"ustar"


def binary_magic(sample: bytes) -> str | None:
    for magic, name in _MAGIC_NUMBERS:
        if sample.startswith(magic):
            return name
    if _is_tar(sample):
        return "tar"
    return None


def zip_kind(path: Path) -> str:
    """Office files are ZIPs too: tell a workbook from an archive by its members."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                mimetype = archive.read("mimetype")[:100].decode("ascii", "replace")
                return "ods" if "spreadsheet" in mimetype else "opendocument"
    except ZIP_READ_ERRORS as error:
        raise ArchiveError(f"not a readable ZIP archive: {error}") from error
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "word/document.xml" in names:
        return "docx"
    if "ppt/presentation.xml" in names:
        return "pptx"
    return "zip"


def detect_text(sample: bytes, whole: bool, declared_format: str | None) -> DetectedFormat:
    encoding = sniff_encoding(sample, whole)
    text = decode_sample(sample, whole, encoding)
    stripped = text.lstrip()
    if not stripped:
        raise FormatError("empty file")
    head = stripped[:64].lower()
    if head.startswith(("<!doctype html", "<html")):
        return DetectedFormat("html", encoding=encoding)
    if head.startswith("<?xml"):
        return DetectedFormat("xml", encoding=encoding)
    if _looks_like_json(stripped):
        return DetectedFormat(_json_kind(stripped, declared_format), encoding=encoding)
    return DetectedFormat("csv", encoding=encoding, delimiter=sniff_delimiter(text, whole))


def sniff_encoding(sample: bytes, whole: bool) -> str:
    """utf-8 (``utf-8-sig`` with a BOM), utf-16 with a BOM, else cp1252; binary content is refused."""
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    nul_at = sample.find(b"\x00")
    if nul_at >= 0:
        raise FormatError(f"binary content, not text: NUL byte at byte {nul_at}")
    control_count = len(sample.translate(None, _NON_CONTROL_BYTES))
    if control_count > len(sample) * _MAX_CONTROL_SHARE:
        raise FormatError(f"binary content, not text: {control_count} control bytes in the first {len(sample)} bytes")
    has_bom = sample.startswith(codecs.BOM_UTF8)
    try:
        # A sample cut in the middle of a multi-byte character is still valid UTF-8.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=whole)
    except UnicodeDecodeError as error:
        if has_bom:
            raise FormatError(f"not valid utf-8 at byte {error.start} despite its UTF-8 BOM") from error
    else:
        return "utf-8-sig" if has_bom else "utf-8"
    try:
        sample.decode("cp1252")
    except UnicodeDecodeError as error:
        raise FormatError(f"not valid utf-8 nor cp1252 at byte {error.start}") from error
    return "cp1252"


def decode_sample(sample: bytes, whole: bool, encoding: str) -> str:
    """The sample as text, cut after its last line break when the file goes on."""
    if not whole:
        # utf-16 line breaks span two bytes; any cut point is fine since decoding below forgives the tail.
        last_break = sample.rfind(b"\n")
        if last_break > 0:
            sample = sample[: last_break + 1]
    return sample.decode(encoding, errors="replace")


def sniff_delimiter(text: str, whole: bool) -> str | None:
    """The candidate that splits the header and the most records into the same number of fields.

    Counting fields with the csv module honours quotes, so a `,` inside a quoted value or a decimal comma
    in a `;` file does not count. A poor best guess is still returned: the ragged rows then fail with a
    message naming them, which says more than reading the file as one column. None means one column.
    """
    best: tuple[float, str] | None = None
    for delimiter in DELIMITER_CANDIDATES:
        share = delimiter_consistency(text, whole, delimiter)
        if share is not None and (best is None or share > best[0]):
            best = (share, delimiter)
    return best[1] if best else None


def delimiter_consistency(text: str, whole: bool, delimiter: str) -> float | None:
    """Share of sampled records with as many fields as the header; None if the header is not split."""
    if delimiter not in text:
        return None
    counts = _field_counts(text, delimiter, whole)
    if not counts or counts[0] < 2:
        return None
    header, records = counts[0], counts[1:]
    return sum(count == header for count in records) / len(records) if records else 1.0


def looks_like_a_table(sample: bytes, whole: bool, detected: DetectedFormat) -> bool:
    """Whether sniffed text is clearly a table (nearly every record split like its header), not prose."""
    if detected.format != "csv":
        return True
    if detected.delimiter is None or detected.encoding is None:
        return False
    text = decode_sample(sample, whole, detected.encoding)
    share = delimiter_consistency(text, whole, detected.delimiter)
    return share is not None and share >= _MIN_CONSISTENT_SHARE


def _field_counts(text: str, delimiter: str, whole: bool) -> list[int]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', doublequote=True)
    counts: list[int] = []
    # The sample may end inside a quoted field: the records counted so far are enough.
    with contextlib.suppress(csv.Error):
        counts.extend(len(row) for row in islice(reader, _SNIFF_MAX_RECORDS) if row)
    if not whole and len(counts) > 2:
        counts.pop()  # the sample may cut the last record short
    return counts


def _looks_like_json(text: str) -> bool:
    """A `{` or `[` followed by what JSON allows there: `[id];name` is a CSV header, not JSON."""
    if text[0] not in "{[":
        return False
    rest = text[1:].lstrip()
    if not rest:
        return False
    allowed = _JSON_AFTER_BRACE if text[0] == "{" else _JSON_AFTER_BRACKET
    return rest[0] in allowed


def _json_kind(text: str, declared_format: str | None) -> str:
    declared = (declared_format or "").strip().lower().lstrip(".")
    if text.startswith("["):
        return "json"
    if declared in {"ndjson", "jsonl", "jsonlines"} or _looks_like_ndjson(text):
        return "ndjson"
    if declared == "geojson" or _GEOJSON_MARKER.search(text[:65536]):
        return "geojson"
    return "json"


def _looks_like_ndjson(text: str) -> bool:
    first_line, _, rest = text.partition("\n")
    try:
        first = json.loads(first_line)
    except ValueError:
        return False
    return isinstance(first, dict) and rest.lstrip().startswith("{")
