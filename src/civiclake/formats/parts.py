"""From a source and its detected format to the tables it holds."""

from __future__ import annotations

from pathlib import Path

from civiclake.errors import FormatError
from civiclake.formats.csv import CsvPart
from civiclake.formats.excel import sheet_parts
from civiclake.formats.geojson import GeoJsonPart
from civiclake.formats.json import NdjsonPart, json_parts
from civiclake.formats.model import DetectedFormat, ReadLimits, TabularPart
from civiclake.formats.parquet import ParquetPart
from civiclake.formats.sources import ByteSource, refuse_utf8_in_single_byte_text

STREAMED_FORMATS = frozenset({"csv", "json", "ndjson", "geojson"})
RANDOM_ACCESS_FORMATS = frozenset({"xlsx", "xls", "parquet"})


class LocalCopyKeeper:
    """Owned by every part read from one temporary copy: the copy is deleted when the last part goes."""


def parts_for_source(
    source: ByteSource,
    detected: DetectedFormat,
    name: str | None,
    limits: ReadLimits,
    workdir: Path | None,
) -> list[TabularPart]:
    kind = detected.format
    if kind == "csv":
        sample, _ = source.read_sample(limits.sample_bytes)
        return [CsvPart(source, detected, name, sample_is_ascii=sample.isascii())]
    if kind in STREAMED_FORMATS:
        refuse_utf8_in_single_byte_text(source, detected.encoding)  # the CSV part checks its own, maybe later, choice
    if kind == "json":
        return list(json_parts(source, detected, name))
    if kind == "ndjson":
        return [NdjsonPart(source, detected, name)]
    if kind == "geojson":
        return [GeoJsonPart(source, detected, name)]
    if kind in RANDOM_ACCESS_FORMATS:
        keeper = LocalCopyKeeper()
        local_path = source.local_path(workdir, keeper)
        parts: list[TabularPart]
        if kind == "parquet":
            parts = [ParquetPart(local_path, detected, name)]
        else:
            parts = list(sheet_parts(local_path, detected, name))
        for part in parts:
            part.keepalive = keeper  # type: ignore[attr-defined]
        return parts
    raise FormatError(f"not a tabular file: detected {kind}")
