"""The shapes every reader shares: limits, what detection found, and one table found in a file."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

ORIGINAL_NAME_KEY = b"original_name"

# Formats a TabularPart can be built from; every other detected format is refused as "not tabular".
TABULAR_FORMATS = frozenset({"csv", "json", "ndjson", "geojson", "zip", "xlsx", "xls", "parquet"})


@dataclass(frozen=True)
class ReadLimits:
    max_archive_members: int = 1000
    max_expanded_bytes: int = 20 * 1024**3  # total uncompressed size of a ZIP, refused above
    max_compression_ratio: float = 200.0  # per member, zip-bomb guard
    sample_bytes: int = 1024 * 1024  # bytes read for sniffing delimiter/encoding


DEFAULT_LIMITS = ReadLimits()


@dataclass(frozen=True)
class DetectedFormat:
    """What the bytes turned out to be.

    ``format`` names the content itself: a ``.csv.gz`` is ``format="csv", compression="gzip"``, so callers
    can key on ``format`` whatever the wrapping.
    """

    format: str
    encoding: str | None = None
    delimiter: str | None = None
    compression: str | None = None


class TabularPart(ABC):
    """One table found in a file: the CSV itself, one ZIP member, one sheet, one JSON data array.

    ``schema`` is the final Arrow schema (normalised unique names, each field carrying its
    ``original_name`` in metadata); ``batches()`` streams record batches that conform to it exactly,
    and ``rows_read`` holds the number of data rows once ``batches()`` is exhausted.
    """

    name: str | None
    rows_read: int

    def __init__(self, name: str | None, detected: DetectedFormat) -> None:
        self.name = name
        self._detected = detected
        self.rows_read = 0

    @property
    def format(self) -> DetectedFormat:
        return self._detected

    @property
    @abstractmethod
    def schema(self) -> pa.Schema: ...

    @abstractmethod
    def batches(self) -> Iterator[pa.RecordBatch]: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, format={self.format!r})"


def field_with_original_name(name: str, arrow_type: pa.DataType, original_name: str) -> pa.Field:
    return pa.field(name, arrow_type, nullable=True, metadata={ORIGINAL_NAME_KEY: original_name.encode()})
