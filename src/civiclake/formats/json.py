"""JSON tables: an array of objects, an object holding one (``{"data": [...]}``), or NDJSON.

Big arrays are parsed incrementally with ijson, so memory holds one batch of records, never the document.
"""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Hashable, Iterator, Mapping
from contextlib import contextmanager
from typing import BinaryIO

import ijson

from civiclake.errors import FormatError
from civiclake.formats.model import DetectedFormat
from civiclake.formats.records import RecordsPart
from civiclake.formats.sources import ByteSource

_TRANSCODE_CHUNK_CHARS = 256 * 1024


class JsonPart(RecordsPart):
    """Records of a JSON array at ``items_prefix`` (ijson's path: ``item``, ``data.item``...)."""

    def __init__(self, source: ByteSource, detected: DetectedFormat, name: str | None, items_prefix: str) -> None:
        super().__init__(name, detected)
        self._source = source
        self._items_prefix = items_prefix

    def _records(self) -> Iterator[Mapping[Hashable, object]]:
        with utf8_stream(self._source, self.format.encoding) as stream:
            items = ijson.items(stream, self._items_prefix, use_float=True)
            for position, item in enumerate(_json_errors_as_format_errors(items), start=1):
                if not isinstance(item, dict):
                    raise FormatError(f"item {position} of the JSON array is {type(item).__name__}, not an object")
                yield item


class NdjsonPart(RecordsPart):
    def __init__(self, source: ByteSource, detected: DetectedFormat, name: str | None) -> None:
        super().__init__(name, detected)
        self._source = source

    def _records(self) -> Iterator[Mapping[Hashable, object]]:
        encoding = self.format.encoding or "utf-8"
        with self._source.open() as raw:
            lines = io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline=None)
            line_number = 0
            try:
                for line_number, line in enumerate(lines, start=1):
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                    except ValueError as error:
                        raise FormatError(f"line {line_number} is not valid JSON: {error}") from error
                    if not isinstance(record, dict):
                        raise FormatError(f"line {line_number} is {type(record).__name__}, not a JSON object")
                    yield record
            except UnicodeDecodeError as error:
                raise FormatError(f"not valid {encoding} near line {line_number + 1}: {error.reason}") from error


def json_parts(source: ByteSource, detected: DetectedFormat, name: str | None) -> list[JsonPart]:
    """The part of a JSON document: its top-level array, else the first member holding objects in an array."""
    with utf8_stream(source, detected.encoding) as stream:
        prefix = _records_prefix(stream)
    if prefix is None:
        raise FormatError("not a tabular file: JSON object holds no array of objects")
    return [JsonPart(source, detected, name, prefix)]


def _records_prefix(stream: BinaryIO) -> str | None:
    events = _json_errors_as_format_errors(ijson.parse(stream))
    candidate: str | None = None
    for prefix, event, _ in events:
        if prefix == "" and event == "start_array":
            return "item"
        if candidate is not None:
            if prefix == f"{candidate}.item" and event == "start_map":
                return f"{candidate}.item"
            candidate = None
        if event == "start_array" and prefix and "." not in prefix:
            candidate = prefix  # a top-level member's array: tabular if its first item is an object
    return None


def _json_errors_as_format_errors(items: Iterator) -> Iterator:
    try:
        yield from items
    except ijson.JSONError as error:
        raise FormatError(f"invalid JSON: {error}") from error


@contextmanager
def utf8_stream(source: ByteSource, encoding: str | None) -> Iterator[BinaryIO]:
    """The source as UTF-8 bytes without BOM, which is what the incremental parser reads."""
    with source.open() as raw:
        if encoding is None or encoding == "utf-8":
            yield raw
        else:
            yield io.BufferedReader(_Utf8Transcoder(raw, encoding))


class _Utf8Transcoder(io.RawIOBase):
    def __init__(self, inner: BinaryIO, encoding: str) -> None:
        super().__init__()
        self._text = io.TextIOWrapper(inner, encoding=encoding, errors="strict")
        self._encoding = encoding
        self._pending = b""
        self._encoder = codecs.getincrementalencoder("utf-8")()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                text = self._text.read(_TRANSCODE_CHUNK_CHARS)
            except UnicodeDecodeError as error:
                raise FormatError(f"not valid {self._encoding}: {error.reason}") from error
            if not text:
                return 0
            self._pending = self._encoder.encode(text)
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count
