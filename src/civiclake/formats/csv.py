"""Delimited text (CSV, TXT, CSV.GZ, ZIP members): streamed with pyarrow.csv, typed in two passes.

Pass 1 reads every cell as a string and lets ``TextColumnInference`` decide each column's type over all
rows; pass 2 reads again and converts. The header is read by the same parser as the data (as the first
row of the stream), so quoting in the header follows the same rules as in the rows.
"""

from __future__ import annotations

import csv as stdlib_csv
import io
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, BinaryIO

import pyarrow as pa
import pyarrow.csv as pa_csv

from civiclake.errors import FormatError
from civiclake.formats.inference import InferredType, TextColumnInference, convert_text_column
from civiclake.formats.model import DetectedFormat, TabularPart, field_with_original_name
from civiclake.formats.sources import ByteSource, first_undecodable_byte
from civiclake.naming import normalise_column_names

if TYPE_CHECKING:
    import _csv

_BLOCK_BYTES = 4 * 1024 * 1024  # one record batch per block: bounded memory whatever the file size
_TAIL_BYTES = 64 * 1024
_FALLBACK_DELIMITER = "\x1f"  # ASCII unit separator: never in a one-column text file
_UTF8_NAMES = {"utf-8", "utf-8-sig"}


class CsvPart(TabularPart):
    def __init__(
        self, source: ByteSource, detected: DetectedFormat, name: str | None, *, sample_is_ascii: bool
    ) -> None:
        super().__init__(name, detected)
        self._source = source
        # An ASCII sample proves nothing about the encoding: if invalid UTF-8 turns up later, the
        # file is read again as cp1252 instead of being refused.
        self._may_fall_back_to_cp1252 = sample_is_ascii and detected.encoding == "utf-8"
        self._fell_back_to_cp1252 = False
        self._types: list[InferredType] = []

    @cached_property
    def schema(self) -> pa.Schema:
        try:
            return self._infer_schema()
        except _InvalidUtf8Error:
            if not self._may_fall_back_to_cp1252:
                raise self._encoding_error() from None
            self._detected = replace(self._detected, encoding="cp1252")
            self._fell_back_to_cp1252 = True
            return self._infer_schema()

    def batches(self) -> Iterator[pa.RecordBatch]:
        schema = self.schema
        self.rows_read = 0
        with self._source.open() as stream:
            for batch in self._data_batches(stream, header_out=None):
                columns = [
                    self._convert(column, inferred, field)
                    for column, inferred, field in zip(batch.columns, self._types, schema, strict=True)
                ]
                self.rows_read += batch.num_rows
                yield pa.RecordBatch.from_arrays(columns, schema=schema)

    def _convert(self, column: pa.Array, inferred: InferredType, field: pa.Field) -> pa.Array:
        try:
            return convert_text_column(column, inferred)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
            # Only possible if the file changed between the two passes.
            raise FormatError(f"column {field.name!r} no longer converts to {inferred.arrow_type}: {error}") from error

    def _infer_schema(self) -> pa.Schema:
        header: list[str] = []
        inferences: list[TextColumnInference] = []
        row_count = 0
        with self._source.open() as raw:
            tail = _TailRecorder(raw, _TAIL_BYTES)
            for batch in self._data_batches(io.BufferedReader(tail, _BLOCK_BYTES), header_out=header):
                if not inferences:
                    names = normalise_column_names(header)
                    inferences = [TextColumnInference(name) for name in names]
                for column, inference in zip(batch.columns, inferences, strict=True):
                    inference.update(column)
                row_count += batch.num_rows
                last_batch = batch
            if row_count:
                self._refuse_unterminated_quote(last_batch, tail.tail)
        if not header:
            raise FormatError("no header row")
        names = normalise_column_names(header)
        if not inferences:
            inferences = [TextColumnInference(name) for name in names]
        self._types = [inference.result() for inference in inferences]
        self.rows_read = row_count
        return pa.schema(
            [
                field_with_original_name(name, inferred.arrow_type, original)
                for name, inferred, original in zip(names, self._types, header, strict=True)
            ]
        )

    def _data_batches(self, stream: BinaryIO, header_out: list[str] | None) -> Iterator[pa.RecordBatch]:
        """Batches of data rows as strings; the header row is sliced off (and handed out if asked)."""
        width = self._header_width
        reader = self._open_reader(stream, width)
        first = True
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except pa.ArrowInvalid as error:
                raise self._parse_error(error, width) from error
            except UnicodeDecodeError as error:
                raise self._encoding_error() from error
            if first:
                first = False
                if batch.num_columns != width:
                    raise FormatError(f"header row read as {batch.num_columns} fields, expected {width}")
                if batch.num_rows == 0:
                    continue
                if header_out is not None:
                    header_out.extend(_clean_header(batch.slice(0, 1).to_pylist()[0].values()))
                batch = batch.slice(1)
            if batch.num_rows:
                yield batch

    def _open_reader(self, stream: BinaryIO, width: int) -> pa_csv.CSVStreamingReader:
        encoding = self._detected.encoding or "utf-8"
        read_options = pa_csv.ReadOptions(
            block_size=_BLOCK_BYTES,
            autogenerate_column_names=True,
            # pyarrow skips a UTF-8 BOM itself and validates UTF-8 natively; other encodings are transcoded.
            encoding="utf8" if encoding in _UTF8_NAMES else encoding,
        )
        parse_options = pa_csv.ParseOptions(
            delimiter=self._delimiter,
            quote_char='"',
            double_quote=True,
            escape_char=False,
            newlines_in_values=True,
            ignore_empty_lines=True,
        )
        convert_options = pa_csv.ConvertOptions(
            column_types={f"f{index}": pa.string() for index in range(width)},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            null_values=[],
            check_utf8=True,
        )
        try:
            return pa_csv.open_csv(
                stream,
                read_options=read_options,
                parse_options=parse_options,
                convert_options=convert_options,
            )
        except pa.ArrowInvalid as error:
            raise self._parse_error(error, width) from error
        except UnicodeDecodeError as error:
            raise self._encoding_error() from error

    @property
    def _delimiter(self) -> str:
        return self._detected.delimiter or _FALLBACK_DELIMITER

    @cached_property
    def _header_width(self) -> int:
        """The header's field count, read with the csv module, so that every column is forced to string."""
        encoding = self._detected.encoding or "utf-8"
        with self._source.open() as raw:
            text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
            reader = self._csv_module_reader(text)
            try:
                for row in reader:
                    if row:
                        return len(row)
            except stdlib_csv.Error as error:
                raise FormatError(f"header row cannot be parsed: {error}") from error
        raise FormatError("no header row")

    def _csv_module_reader(self, text: io.TextIOWrapper) -> _csv.Reader:
        """Python's csv module set up to parse as pyarrow does, for the slow paths that need row numbers."""
        delimiter = self._delimiter
        return stdlib_csv.reader(text, delimiter=delimiter, quotechar='"', doublequote=True, strict=True)

    def _parse_error(self, error: pa.ArrowInvalid, width: int) -> Exception:
        message = str(error)
        if "invalid UTF8" in message:
            return _InvalidUtf8Error(message)
        if "CSV parse error" in message:
            return self._locate_bad_row(width) or FormatError(message.replace("CSV parse error: ", ""))
        return FormatError(message)

    def _locate_bad_row(self, width: int) -> FormatError | None:
        """Re-read with the csv module to name the first row whose field count differs from the header.

        pyarrow's streaming reader does not know row numbers; this slower scan only runs on failure.
        """
        encoding = self._detected.encoding or "utf-8"
        row_number = 0
        with self._source.open() as raw:
            text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
            reader = self._csv_module_reader(text)
            try:
                for row in reader:
                    if not row:
                        continue
                    if row_number and len(row) != width:
                        return FormatError(
                            f"row {row_number} (line {reader.line_num}) has {len(row)} fields, header has {width}"
                        )
                    row_number += 1
            except stdlib_csv.Error as error:
                if "unexpected end of data" in str(error):
                    return _truncated_error(reader.line_num)
                return FormatError(f"row {row_number} (line {reader.line_num}): {error}")
        return None

    def _refuse_unterminated_quote(self, last_batch: pa.RecordBatch, tail: bytes) -> None:
        """pyarrow accepts a file that ends inside a quoted value; a truncated download does exactly that.

        The file ends inside a quote when its last bytes are an opening quote, right after a delimiter or
        a line break, followed by the last value of the last row with nothing closing it.
        """
        last_value = last_batch.column(last_batch.num_columns - 1)[-1].as_py() or ""
        encoding = self._detected.encoding or "utf-8"
        if encoding == "utf-16":
            return  # the byte-level check below assumes an ASCII-compatible encoding
        if encoding in _UTF8_NAMES:
            encoding = "utf-8"  # "utf-8-sig" would prepend a BOM to the encoded value
        escaped = ('"' + last_value.replace('"', '""')).encode(encoding, errors="replace")
        delimiter = self._delimiter.encode()
        if len(escaped) >= len(tail):
            unterminated = escaped.endswith(tail)
        else:
            before = tail[-len(escaped) - 1 : -len(escaped)]
            unterminated = tail.endswith(escaped) and before in (delimiter, b"\n", b"\r")
        if unterminated:
            raise _truncated_error(None)

    def _encoding_error(self) -> FormatError:
        encoding = self._detected.encoding or "utf-8"
        offset = first_undecodable_byte(self._source, encoding)
        where = f" at byte {offset}" if offset is not None else ""
        if self._fell_back_to_cp1252:
            return FormatError(f"not valid utf-8 nor cp1252{where}")
        return FormatError(f"not valid {encoding}{where}: the file mixes encodings")


class _InvalidUtf8Error(FormatError):
    pass


def _truncated_error(line: int | None) -> FormatError:
    where = f" (line {line})" if line else ""
    return FormatError(f"unterminated quoted value at end of file{where}: the file is truncated")


def _clean_header(cells: Iterable[object]) -> list[str]:
    """Header cells as text; a leading `#` (La Poste's `#Code_commune_INSEE`) marks a comment, not a name."""
    header = [str(cell) if cell is not None else "" for cell in cells]
    if header and header[0].startswith("#"):
        header[0] = header[0][1:].lstrip()
    return header


class _TailRecorder(io.RawIOBase):
    """Passes bytes through and keeps the last ones, to look at how the file ends."""

    def __init__(self, inner: BinaryIO, keep: int) -> None:
        super().__init__()
        self._inner = inner
        self._keep = keep
        self._chunks: deque[bytes] = deque()
        self._kept = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        count = len(data)
        buffer[:count] = data
        if count:
            self._chunks.append(bytes(data))
            self._kept += count
            while self._kept - len(self._chunks[0]) >= self._keep:
                self._kept -= len(self._chunks.popleft())
        return count

    @property
    def tail(self) -> bytes:
        return b"".join(self._chunks)[-self._keep :]
