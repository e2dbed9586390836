"""ZIP archives: every tabular member is a part, after the archive as a whole is checked for safety.

Before any byte is expanded, the central directory is checked: member count, paths that would leave the
archive's folder, total expanded size, per-member compression ratio. While reading, ``ExpansionGuard``
enforces the same limits on the bytes actually produced, in case the directory lies.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path, PurePosixPath

from civiclake.errors import ArchiveError, FormatError
from civiclake.formats.detect import detect_source, looks_like_a_table, zip_kind
from civiclake.formats.model import TABULAR_FORMATS, DetectedFormat, ReadLimits, TabularPart
from civiclake.formats.parts import LocalCopyKeeper, parts_for_source
from civiclake.formats.sources import RATIO_CHECK_FLOOR_BYTES, ZIP_READ_ERRORS, FileSource, ZipMemberSource

# Members with these extensions are meant as data: failing to read one is an error, not a skip.
TABULAR_SUFFIXES = frozenset(
    {".csv", ".tsv", ".tab", ".txt", ".json", ".geojson", ".ndjson", ".jsonl", ".xlsx", ".xls", ".parquet"}
)
# Text members named otherwise (README.txt, notice.txt) must look like a table to be read as one.
_TABLE_SUFFIXES = frozenset({".csv", ".tsv", ".tab"})
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")
_ENCRYPTED_FLAG = 0x1
_PLATFORM_JUNK = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})


def zip_parts(path: Path, limits: ReadLimits, workdir: Path | None) -> list[TabularPart]:
    parts: list[TabularPart] = []
    skipped: list[str] = []
    for info in checked_members(path, limits):
        if info.is_dir():
            continue
        member_parts = _member_parts(path, info, limits, workdir)
        if member_parts:
            parts.extend(member_parts)
        else:
            skipped.append(info.filename)
    if not parts:
        listed = ", ".join(repr(name) for name in skipped[:10]) or "none"
        raise FormatError(f"not a tabular file: ZIP archive has no tabular member (members: {listed})")
    return parts


def checked_members(path: Path, limits: ReadLimits) -> list[zipfile.ZipInfo]:
    """The archive's members, or ArchiveError if any of them makes the whole archive unsafe."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except ZIP_READ_ERRORS as error:
        raise ArchiveError(f"not a readable ZIP archive: {error}") from error
    if len(members) > limits.max_archive_members:
        raise ArchiveError(f"ZIP has {len(members)} members, over the limit of {limits.max_archive_members}")
    for info in members:
        check_member_path(info.filename)
    expanded = sum(info.file_size for info in members)
    if expanded > limits.max_expanded_bytes:
        raise ArchiveError(f"ZIP expands to {expanded} bytes, over the limit of {limits.max_expanded_bytes} bytes")
    for info in members:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_CHECK_FLOOR_BYTES and ratio > limits.max_compression_ratio:
            raise ArchiveError(
                f"ZIP member {info.filename!r} expands {ratio:.0f} times "
                f"({info.compress_size} -> {info.file_size} bytes), over the ratio limit of "
                f"{limits.max_compression_ratio:.0f}"
            )
    return members


def check_member_path(name: str) -> None:
    if not name:
        raise ArchiveError("ZIP has a member with an empty name: the archive is damaged")
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or _WINDOWS_DRIVE.match(normalised) or ".." in normalised.split("/"):
        raise ArchiveError(f"ZIP member {name!r} points outside the archive")


def _is_platform_junk(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return path.parts[0] == "__MACOSX" or path.name.startswith("._") or path.name in _PLATFORM_JUNK


def _member_parts(path: Path, info: zipfile.ZipInfo, limits: ReadLimits, workdir: Path | None) -> list[TabularPart]:
    name = info.filename
    suffix = PurePosixPath(name).suffix.lower()
    meant_as_data = suffix in TABULAR_SUFFIXES
    if _is_platform_junk(name):
        return []
    if info.flag_bits & _ENCRYPTED_FLAG:
        if meant_as_data:
            raise ArchiveError(f"ZIP member {name!r} is encrypted")
        return []
    source = ZipMemberSource(path, info, limits)
    try:
        detected = detect_source(source, suffix.lstrip("."), limits)
    except ArchiveError:
        raise
    except FormatError as error:
        if meant_as_data:
            raise FormatError(f"ZIP member {name!r}: {error}") from error
        return []
    if detected.format == "zip":
        return _office_member_parts(source, name, limits, workdir)
    if detected.format not in TABULAR_FORMATS:
        return []
    if suffix not in _TABLE_SUFFIXES and not looks_like_a_table(*source.read_sample(limits.sample_bytes), detected):
        return []
    try:
        return parts_for_source(source, detected, name, limits, workdir)
    except ArchiveError:
        raise
    except FormatError as error:
        raise FormatError(f"ZIP member {name!r}: {error}") from error


def _office_member_parts(
    source: ZipMemberSource, name: str, limits: ReadLimits, workdir: Path | None
) -> list[TabularPart]:
    """A workbook inside the archive is read; an archive inside the archive is skipped (not supported)."""
    keeper = LocalCopyKeeper()
    local_path = source.local_path(workdir, keeper)
    if zip_kind(local_path) != "xlsx":
        return []
    parts = parts_for_source(FileSource(local_path), DetectedFormat("xlsx"), name, limits, workdir)
    for part in parts:
        part.keepalive = keeper  # type: ignore[attr-defined]
    return parts
