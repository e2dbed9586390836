"""CSV as the Olist files write it, read and written record by record, keeping bytes as they are.

The replay copies records without re-encoding them: a record's bytes (its quoting, its CRLF inside a
review comment) go out exactly as they came in. Only a record the replay changes is written again, with
each value quoted as it was in the original. The generator writes with the same habits as the real
files: a quoted header, some identifiers quoted and others not, text quoted only when it must be, no
line break after the last record, and per file a BOM or CRLF line endings where Olist has them.
"""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from civiclake.errors import FormatError

UTF8_BOM = b"\xef\xbb\xbf"
_BUFFER_BYTES = 1024 * 1024
_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


@dataclass(frozen=True)
class RawRecord:
    raw: bytes  # the record's bytes, without its line terminator
    values: list[str]


class RawCsvReader:
    """Records of a UTF-8 CSV with their exact bytes; the header is read on opening."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stream: BinaryIO = path.open("rb", buffering=_BUFFER_BYTES)
        self._records = _raw_records(self._stream, path)
        try:
            header, terminator = next(self._records)
        except StopIteration:
            self._stream.close()
            raise FormatError(f"{path.name}: empty file, no header") from None
        self.bom = header.startswith(UTF8_BOM)
        self.header_raw = header.removeprefix(UTF8_BOM)
        self.header = _parse(self.header_raw, path)
        self.newline = terminator or b"\n"
        self._last_terminator = terminator

    def __iter__(self) -> Iterator[RawRecord]:
        width = len(self.header)
        for number, (raw, terminator) in enumerate(self._records, start=1):
            self._last_terminator = terminator
            values = _parse(raw, self.path)
            if len(values) != width:
                raise FormatError(f"{self.path.name}: record {number} has {len(values)} values, the header {width}")
            yield RawRecord(raw, values)

    @property
    def ends_with_newline(self) -> bool:
        """Known once every record has been read."""
        return bool(self._last_terminator)

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> RawCsvReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _raw_records(stream: BinaryIO, path: Path) -> Iterator[tuple[bytes, bytes]]:
    """(record bytes, terminator) pairs; a record goes on over line breaks while a quote is open.

    Quotes inside a quoted value are doubled, so an odd count of quote characters so far means the line
    break ends a line of the value, not the record.
    """
    pending: list[bytes] = []
    quotes = 0
    for line in stream:
        pending.append(line)
        quotes += line.count(b'"')
        if quotes % 2:
            continue
        record = pending[0] if len(pending) == 1 else b"".join(pending)
        pending, quotes = [], 0
        if record.endswith(b"\r\n"):
            body, terminator = record[:-2], b"\r\n"
        elif record.endswith(b"\n"):
            body, terminator = record[:-1], b"\n"
        else:
            body, terminator = record, b""
        if body.strip(b"\r") in (b"", UTF8_BOM):
            continue  # a blank line is no record (readers skip it too)
        yield body, terminator
    if pending:
        raise FormatError(f"{path.name}: the file ends inside a quoted value")


def _parse(raw: bytes, path: Path) -> list[str]:
    try:
        return next(csv.reader([raw.decode("utf-8")]))
    except (UnicodeDecodeError, csv.Error, StopIteration) as error:
        raise FormatError(f"{path.name}: cannot parse record {raw[:80]!r}: {error}") from None


def quoted_flags(raw: bytes) -> list[bool]:
    """For each value of a record, whether it was written between quotes."""
    flags: list[bool] = []
    at_field_start, in_quotes, quoted = True, False, False
    for byte in raw:
        if at_field_start:
            at_field_start = False
            quoted = in_quotes = byte == 0x22
            if in_quotes:
                continue
        if in_quotes:
            if byte == 0x22:
                in_quotes = False  # a doubled quote closes and reopens: the state ends up the same
            continue
        if byte == 0x22 and quoted:
            in_quotes = True
        elif byte == 0x2C:
            flags.append(quoted)
            at_field_start, quoted = True, False
    flags.append(quoted)
    return flags


def encode_record(values: Sequence[str], quoted: Sequence[bool]) -> bytes:
    """A record with each value quoted where ``quoted`` says, and wherever the value needs it."""
    return ",".join(
        f'"{value.replace(chr(34), chr(34) * 2)}"' if must or _NEEDS_QUOTES.search(value) else value
        for value, must in zip(values, quoted, strict=True)
    ).encode("utf-8")


class DialectWriter:
    """Writes records like ``reader``'s file; the file and its header appear with the first record."""

    def __init__(self, path: Path, reader: RawCsvReader) -> None:
        self.path = path
        self.reader = reader
        self.rows = 0
        self._stream: BinaryIO | None = None

    def write(self, raw: bytes) -> None:
        if self._stream is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._stream = self.path.open("wb", buffering=_BUFFER_BYTES)
            self._stream.write((UTF8_BOM if self.reader.bom else b"") + self.reader.header_raw)
        # The terminator goes before each record, so the last one ends the file as the input did.
        self._stream.write(self.reader.newline)
        self._stream.write(raw)
        self.rows += 1

    def close(self) -> None:
        """Once the reader is done: its file's last record says whether a line break ends the file."""
        if self._stream is not None:
            if self.reader.ends_with_newline:
                self._stream.write(self.reader.newline)
            self._stream.close()
            self._stream = None


@dataclass(frozen=True)
class FileStyle:
    """How the generator writes one Olist file, after the real one."""

    bom: bool = False
    newline: str = "\n"
    quoted_header: bool = True
    # Column -> share of its values written between quotes (values that need quotes always get them).
    quote_share: Mapping[str, float] = field(default_factory=dict)


class StyledCsvWriter:
    """Writes generated rows with a file's style; quoting choices come from the generator's own ``rng``."""

    def __init__(self, path: Path, columns: Sequence[str], style: FileStyle, rng: random.Random) -> None:
        self.path = path
        self.rows = 0
        self._rng = rng
        self._newline = style.newline
        self._shares = [style.quote_share.get(column, 0.0) for column in columns]
        self._stream = path.open("w", encoding="utf-8", newline="", buffering=_BUFFER_BYTES)
        if style.bom:
            self._stream.write("\ufeff")
        self._stream.write(",".join(f'"{name}"' if style.quoted_header else name for name in columns))

    def row(self, values: Sequence[str]) -> None:
        random_value = self._rng.random
        needs_quotes = _NEEDS_QUOTES.search
        cells = []
        for value, share in zip(values, self._shares, strict=True):
            if (share and (share >= 1.0 or random_value() < share)) or needs_quotes(value):
                cells.append(f'"{value.replace(chr(34), chr(34) * 2)}"')
            else:
                cells.append(value)
        self._stream.write(self._newline)
        self._stream.write(",".join(cells))
        self.rows += 1

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> StyledCsvWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
