"""``open_tabular``: any supported file to the list of tables it holds."""

from __future__ import annotations

from pathlib import Path

from civiclake.errors import FormatError
from civiclake.formats.archive import zip_parts
from civiclake.formats.detect import detect_format
from civiclake.formats.model import DEFAULT_LIMITS, ReadLimits, TabularPart
from civiclake.formats.parts import LocalCopyKeeper, parts_for_source
from civiclake.formats.sources import ByteSource, FileSource, GzipSource


def open_tabular(
    path: Path,
    declared_format: str | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
    workdir: Path | None = None,
) -> list[TabularPart]:
    """The tables in ``path``: one for a CSV or JSON, one per sheet, one per tabular ZIP member.

    Parts are lazy: a part's schema is inferred (a full pass over its data) on first access.
    A file holding no table raises FormatError("not a tabular file: ...").
    """
    path = Path(path)
    detected = detect_format(path, declared_format, limits)
    if detected.format == "zip" and detected.compression is None:
        return zip_parts(path, limits, workdir)
    source: ByteSource = FileSource(path)
    if detected.compression == "gzip":
        source = GzipSource(path, limits)
        if detected.format == "zip":
            return _gzipped_archive_parts(source, declared_format, limits, workdir)
    parts = parts_for_source(source, detected, None, limits, workdir)
    if not parts:
        raise FormatError(f"not a tabular file: {detected.format} workbook has no non-empty sheet")
    return parts


def _gzipped_archive_parts(
    source: ByteSource, declared_format: str | None, limits: ReadLimits, workdir: Path | None
) -> list[TabularPart]:
    keeper = LocalCopyKeeper()
    parts = open_tabular(source.local_path(workdir, keeper), declared_format, limits, workdir)
    for part in parts:
        part.keepalive = keeper  # type: ignore[attr-defined]
    return parts
