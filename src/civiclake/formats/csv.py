"""Delimited text (CSV, TXT, CSV.GZ, ZIP members): typed over every row, streamed in bounded memory.

The reference reader streams with pyarrow.csv in two passes: pass 1 reads every cell as a string and lets
``TextColumnInference`` decide each column's type over all rows; pass 2 reads again and converts
(``batches()``). The header is read by the same parser as the data (as the first row of the stream), so
quoting in the header follows the same rules as in the rows.

Large files take a fast path with the same answers: pyarrow reads the first block (header, and a sample
that rules out most types at once), then polars, on every core, checks the rules still open over every row
in one pass, and ``lazy_frame()`` hands the typed rows to a multi-threaded Parquet writer. polars is
stricter than pyarrow about quotes and does not know pyarrow's line rules (blank lines skipped, a lone CR
ends a row, short rows refused), so the fast path checks the row structure and gives way to the reference
reader whenever the two could disagree; the reference reader then loads the file or names its bad row.
"""

from __future__ import annotations

import codecs
import csv as stdlib_csv
import io
import os
import re
import shutil
import tempfile
import weakref
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from civiclake.errors import FormatError
from civiclake.formats.inference import (
    InferredType,
    TextColumnInference,
    convert_text_column,
    polars_conversion,
    query_fails_where,
)
from civiclake.formats.model import DetectedFormat, TabularPart, field_with_original_name
from civiclake.formats.sources import (
    ByteSource,
    FileSource,
    GzipSource,
    ZipMemberSource,
    first_undecodable_byte,
    refuse_utf8_in_single_byte_text,
)
from civiclake.naming import normalise_column_names

if TYPE_CHECKING:
    import _csv

    import polars as pl

# polars is imported where the fast path uses it: a run with no large file to read (most re-syncs) does not
# pay for its import.

_BLOCK_BYTES = 4 * 1024 * 1024  # one record batch per block: bounded memory whatever the file size
_TAIL_BYTES = 64 * 1024
_FALLBACK_DELIMITER = "\x1f"  # ASCII unit separator: never in a one-column text file
_UTF8_NAMES = {"utf-8", "utf-8-sig"}
# Smaller files go through the reference reader alone: the fast path's fixed costs (a sample read, query
# planning, threads) buy nothing there. Tests lower it to put small files through the fast path.
FAST_PATH_MIN_BYTES = 32 * 1024 * 1024
# polars reads UTF-8 only; cp1252 (the other encoding detection gives a large file) is transcoded first.
_FAST_PATH_ENCODINGS = _UTF8_NAMES | {"cp1252"}
# The first block the fast path reads with pyarrow: header, and a sample that closes most type rules at once.
SAMPLE_BYTES = _BLOCK_BYTES
# How much of the file polars reads at a time. Its default, 32 MiB with four chunks read ahead, each split
# into a text column per cell, made up a third of a 1 GiB sync's peak memory; 4 MiB chunks bring that peak
# from 725-789 MiB to 520-570 MiB at the same speed (docs/performance.md). An operator's own setting wins.
_POLARS_CHUNK_BYTES = 4 * 1024 * 1024
_COPY_BYTES = 16 * 1024 * 1024
_LONE_CR = re.compile(rb"\r(?!\n)")
_CARRIAGE_RETURNS_LOOPED = 4096  # in a chunk, before the regular expression checks the rest


@dataclass(frozen=True)
class _FastInput:
    """A UTF-8 file polars can read (the source itself, or a decoded copy) and how many columns it has."""

    path: Path
    width: int
    delimiter: str


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
        self._fast_input: _FastInput | None = None
        self._schema: pa.Schema | None = None
        self._utf8_copy: Path | None = None  # a decoded copy for polars, made once
        # Whether the types come from the sample alone, held by guards in ``lazy_frame()`` (see ``settle``).
        self._sampled_types = False
        self._may_trust_sample = True

    @property
    def schema(self) -> pa.Schema:
        if self._schema is None:
            schema = self._infer_schema_fast() or self._infer_schema_with_fallback()
            refuse_utf8_in_single_byte_text(self._source, self._detected.encoding)
            self._schema = schema
        return self._schema

    @property
    def types_from_sample(self) -> bool:
        """True while the types rest on the sample: ``lazy_frame()`` then fails on a row that refutes them."""
        return self._sampled_types

    def settle(self) -> None:
        """Decide the types over every row, after a row refuted the sample's (``lazy_frame()`` failed).

        The whole-file checks run, or the reference reader reads the file; ``schema`` may change.
        """
        self._may_trust_sample, self._sampled_types = False, False
        self._schema, self._fast_input = None, None

    def _infer_schema_with_fallback(self) -> pa.Schema:
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

    def lazy_frame(self) -> pl.LazyFrame | None:
        """The typed rows as a polars query (same names, types and values as ``batches()``), for a writer that
        runs on every core; None when the file took the reference reader, which only ``batches()`` streams.

        Conversions are strict: if the file changed since its types were inferred, running the query fails.
        When the types come from the sample (``types_from_sample``), the query also fails on the first row
        that refutes them: a value off its column's rule, or a row whose last cell is empty (it could be a
        short row, which polars cannot tell from one). ``settle()``, then a new query, is the answer.
        """
        schema = self.schema
        fast = self._fast_input
        if fast is None:
            return None
        import polars as pl

        if self._sampled_types:
            columns = [
                polars_conversion(_fast_column(index), inferred, guarded=True).alias(field.name)
                for index, (inferred, field) in enumerate(zip(self._types, schema, strict=True))
            ]
            could_be_short = pl.col(_fast_column(fast.width - 1)) == ""
            columns[-1] = pl.when(query_fails_where(could_be_short)).then(columns[-1]).alias(schema.names[-1])
            return _scan_text(fast).select(columns)

        # Numbers proven over every row are parsed by the CSV reader itself: for values of the proven shape
        # its parse is the cast's, and the column never exists as text. Decimal commas are a reader-wide
        # switch, so only the decimals of the file's majority style go that way; the others are cast.
        comma_decimals = sum(inferred.decimal_comma for inferred in self._types)
        dot_decimals = sum(pa.types.is_floating(inferred.arrow_type) for inferred in self._types) - comma_decimals
        decimal_comma = comma_decimals > dot_decimals and fast.delimiter != ","
        read_as: dict[str, pl.DataType] = {}
        columns = []
        for index, (inferred, field) in enumerate(zip(self._types, schema, strict=True)):
            name = _fast_column(index)
            if pa.types.is_integer(inferred.arrow_type):
                read_as[name] = pl.Int64()
                columns.append(pl.col(name).alias(field.name))
            elif pa.types.is_floating(inferred.arrow_type) and inferred.decimal_comma == decimal_comma:
                read_as[name] = pl.Float64()
                columns.append(pl.col(name).alias(field.name))
            else:
                columns.append(polars_conversion(name, inferred).alias(field.name))
        return _scan_text(fast, read_as, decimal_comma=decimal_comma).select(columns)

    def _infer_schema_fast(self) -> pa.Schema | None:
        """The schema by the fast path, or None to leave the file to the reference reader."""
        encoding = self._detected.encoding or "utf-8"
        delimiter = self._detected.delimiter
        if (
            delimiter is None  # one column: nothing to split, and a blank line would be a row to polars
            or len(delimiter.encode()) != 1
            or delimiter == '"'
            or encoding not in _FAST_PATH_ENCODINGS
            or _declared_size(self._source) < FAST_PATH_MIN_BYTES
        ):
            return None
        path = self._utf8_path(encoding)
        if path is None:
            return None
        # The scan for lone CRs reads the whole file while pyarrow parses the sample: two cores, half the wait.
        with ThreadPoolExecutor(max_workers=1) as pool:
            scan = pool.submit(_has_lone_carriage_return, path)
            sample = self._read_sample()
            lone_carriage_return = scan.result()
        if sample is None:
            return None
        header, inferences, sample_has_empty_last_cell = sample
        fast = _FastInput(path, len(header), delimiter)
        if (
            self._may_trust_sample
            and not sample_has_empty_last_cell
            and not lone_carriage_return
            and all(inference.decided_by_sample() for inference in inferences)
        ):
            # One pass instead of two: the write itself checks the sample's types (see lazy_frame).
            self._sampled_types = True
        else:
            checked = _check_whole_file(fast, inferences)
            if checked is None:
                return None
            rows, suspect_rows = checked
            if (suspect_rows or lone_carriage_return) and _reference_row_count(fast) != rows:
                return None
            self.rows_read = rows
        self._fast_input = fast
        self._types = [inference.result() for inference in inferences]
        names = normalise_column_names(header)
        return pa.schema(
            [
                field_with_original_name(name, inferred.arrow_type, original)
                for name, inferred, original in zip(names, self._types, header, strict=True)
            ]
        )

    def _read_sample(self) -> tuple[list[str], list[TextColumnInference], bool] | None:
        """Header, inference state after the first block (read by the reference parser) and whether a row of
        it has an empty last cell; None if the parser fails."""
        header: list[str] = []
        try:
            with self._source.open() as stream:
                batches = self._data_batches(stream, header_out=header, block_size=SAMPLE_BYTES, read_ahead=False)
                first = next(batches, None)
        except FormatError:
            return None  # the reference reader will say what is wrong, with the row
        if first is None or first.num_rows == 0:
            return None
        inferences = [TextColumnInference(name) for name in normalise_column_names(header)]
        for column, inference in zip(first.columns, inferences, strict=True):
            inference.update(column)
        last = first.column(first.num_columns - 1)
        return header, inferences, bool(pc.any(pc.equal(last, "")).as_py())

    def _utf8_path(self, encoding: str) -> Path | None:
        """The file as UTF-8 on local disk: the source itself when it already is, else a decoded copy; None
        when polars would read it differently from pyarrow or cannot decode it."""
        source = self._source
        if isinstance(source, FileSource) and encoding in _UTF8_NAMES:
            path = source.path
        elif self._utf8_copy is not None:
            path = self._utf8_copy  # made before a later row refuted the sample's types: still the same bytes
        else:
            # Beside the source: the pipeline's scratch folder, sized for downloads (a pod's /tmp may not be).
            folder = Path(tempfile.mkdtemp(prefix="civiclake-utf8-", dir=_folder_of(source)))
            weakref.finalize(self, shutil.rmtree, folder, ignore_errors=True)
            path = folder / "utf8.csv"
            try:
                _copy_as_utf8(source, encoding, path)
            except (UnicodeDecodeError, FormatError):
                return None  # the reference reader names the undecodable byte or the archive problem
            self._utf8_copy = path
        with path.open("rb") as stream:
            start = stream.read(4).removeprefix(codecs.BOM_UTF8)
        if start[:1] in (b"\r", b"\n"):
            return None  # pyarrow skips blank lines before the header; polars would take one as the header
        return path

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

    def _data_batches(
        self, stream: BinaryIO, header_out: list[str] | None, block_size: int = _BLOCK_BYTES, read_ahead: bool = True
    ) -> Iterator[pa.RecordBatch]:
        """Batches of data rows as strings; the header row is sliced off (and handed out if asked).

        Without ``read_ahead`` the reader parses one block at a time on this thread: for a sample, it spares the
        memory of the blocks threads would have parsed ahead (over 100 MB, kept by the allocator afterwards).
        """
        width = self._header_width
        reader = self._open_reader(stream, width, block_size, read_ahead)
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

    def _open_reader(
        self, stream: BinaryIO, width: int, block_size: int, read_ahead: bool
    ) -> pa_csv.CSVStreamingReader:
        encoding = self._detected.encoding or "utf-8"
        read_options = pa_csv.ReadOptions(
            use_threads=read_ahead,
            block_size=block_size,
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


def _fast_column(index: int) -> str:
    return f"f{index}"  # positional: header names may repeat, or be anything


def _scan_text(
    fast: _FastInput, read_as: Mapping[str, pl.DataType] | None = None, *, decimal_comma: bool = False
) -> pl.LazyFrame:
    """Every cell as text, empty cells as "" (never null), the header row skipped; ``read_as`` types some."""
    import polars as pl

    # Read when the query runs, not at import: setting it here covers every scan civiclake makes.
    os.environ.setdefault("POLARS_CSV_CHUNK_SIZE", str(_POLARS_CHUNK_BYTES))
    names = [_fast_column(index) for index in range(fast.width)]
    schema: dict[str, pl.DataType] = {name: pl.String() for name in names}
    schema.update(read_as or {})
    return pl.scan_csv(
        fast.path,
        separator=fast.delimiter,
        quote_char='"',
        has_header=True,
        new_columns=names,
        schema=schema,
        empty_string_is_null=False,
        decimal_comma=decimal_comma,
        encoding="utf8",
    )


def _check_whole_file(fast: _FastInput, inferences: list[TextColumnInference]) -> tuple[int, int] | None:
    """Settle every column's type over every row with polars; count the rows and the rows that could be short.

    Returns (rows, rows whose last cell is empty), or None when polars refuses the file (a quote it reads
    differently from pyarrow, invalid UTF-8): the reference reader decides then. A row shorter than the
    header reads, to polars, as one whose last cells are empty; a row whose last cell is not empty cannot be
    short. The first pass settles most columns; a column whose sample misled (a later value with the other
    decimal separator, say) takes one more pass, of its own column only.
    """
    import polars as pl

    last = pl.col(_fast_column(fast.width - 1))
    checks: dict[str, pl.Expr] = {
        "rows": pl.len(),
        "suspect_rows": (last == "").sum(),
        # polars strips the CR of a CRLF line end but keeps a lone CR, where pyarrow ends the row.
        "cr_ends_last_cell": last.str.ends_with("\r").any(),
    }
    structure: dict[str, object] = {}
    while True:
        for index, inference in enumerate(inferences):
            for fact, check in inference.whole_file_checks(_fast_column(index)).items():
                checks[f"{index}:{fact}"] = check
        if not checks:
            break
        try:
            found = _scan_text(fast).select(**checks).collect(engine="streaming").row(0, named=True)
        except pl.exceptions.PolarsError:
            return None
        structure = structure or found
        for index, inference in enumerate(inferences):
            prefix = f"{index}:"
            inference.settle(
                {key.removeprefix(prefix): value for key, value in found.items() if key.startswith(prefix)}
            )
        checks = {}
    if structure["cr_ends_last_cell"]:
        return None
    return int(structure["rows"]), int(structure["suspect_rows"])  # type: ignore[call-overload]


def _reference_row_count(fast: _FastInput) -> int | None:
    """Data rows as pyarrow's parser splits the file (blank lines skipped, a lone CR ending a row), or None if
    it refuses a row. Only the last column is converted: the parse itself is the check."""
    names = [_fast_column(index) for index in range(fast.width)]
    read_options = pa_csv.ReadOptions(block_size=_BLOCK_BYTES, column_names=names)
    parse_options = pa_csv.ParseOptions(
        delimiter=fast.delimiter, quote_char='"', double_quote=True, escape_char=False,
        newlines_in_values=True, ignore_empty_lines=True,
    )  # fmt: skip
    convert_options = pa_csv.ConvertOptions(
        column_types={names[-1]: pa.string()}, include_columns=[names[-1]], check_utf8=False
    )
    rows = 0
    try:
        with pa_csv.open_csv(fast.path, read_options, parse_options, convert_options) as reader:
            for batch in reader:
                rows += batch.num_rows
    except pa.ArrowInvalid:
        return None
    return rows - 1  # the header, read as the first row as the reference reader does


def _has_lone_carriage_return(path: Path) -> bool:
    """Whether a CR that does not start a CRLF is in the file: pyarrow ends a row there, polars does not."""
    pending = False  # the previous chunk ended with a CR: the LF, if any, starts this one
    with path.open("rb") as stream:
        while chunk := stream.read(_COPY_BYTES):
            if pending and not chunk.startswith(b"\n"):
                return True
            pending = chunk.endswith(b"\r")
            if _lone_carriage_return_in(chunk, len(chunk) - pending):
                return True
    return pending


def _lone_carriage_return_in(chunk: bytes, end: int) -> bool:
    """Whether ``chunk[:end]`` has a CR with no LF after it (``chunk[end]``, when there, is read too).

    CRs in LF text (inside quoted cells) are few: memchr finds them, 0.04 s per GiB where a regular expression
    takes 0.28 s. CRLF text has one a line, too many for a Python loop: past a few thousand the regular
    expression takes over.
    """
    carriage_return = chunk.find(b"\r", 0, end)
    for _ in range(_CARRIAGE_RETURNS_LOOPED):
        if carriage_return == -1:
            return False
        if chunk[carriage_return + 1] != 0x0A:
            return True
        carriage_return = chunk.find(b"\r", carriage_return + 2, end)
    return carriage_return != -1 and _LONE_CR.search(chunk, carriage_return, end) is not None


def _copy_as_utf8(source: ByteSource, encoding: str, target: Path) -> None:
    """The source's content as UTF-8 in ``target``, a block at a time; an undecodable byte raises."""
    with source.open() as stream, target.open("wb") as out:
        if encoding in _UTF8_NAMES:
            shutil.copyfileobj(stream, out, _COPY_BYTES)  # polars checks UTF-8 itself
            return
        decoder = codecs.getincrementaldecoder(encoding)()
        while chunk := stream.read(_COPY_BYTES):
            out.write(decoder.decode(chunk).encode("utf-8"))
        out.write(decoder.decode(b"", final=True).encode("utf-8"))


def _folder_of(source: ByteSource) -> Path | None:
    if isinstance(source, FileSource | GzipSource):
        return source.path.parent
    if isinstance(source, ZipMemberSource):
        return source.zip_path.parent
    return None


def _declared_size(source: ByteSource) -> int:
    """The content's size when known before reading it; a gzip file's compressed size stands in for it."""
    if isinstance(source, FileSource):
        return source.path.stat().st_size
    if isinstance(source, ZipMemberSource):
        return source.info.file_size
    if isinstance(source, GzipSource):
        return source.path.stat().st_size
    return 0


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
