"""The landing zone: a local folder or an S3 prefix, listed and read through pyarrow's file systems.

The lake uses the same file systems (``civiclake.lake.filesystem``), so a landing bucket on the
cluster's MinIO takes the same S3 settings (endpoint, keys) as the lake itself.

Whoever can drop files in a local landing folder can also drop symbolic links: a file is read only if its real
path (every link resolved, the file's and its folders') is inside the landing folder's own real path, so a link
to ``/etc/passwd`` or to a folder elsewhere is refused, by name, while the other files load.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, cast

import pyarrow.fs as pafs

from civiclake.config import Settings
from civiclake.errors import ConfigurationError, TerminalError
from civiclake.lake.filesystem import S3_CLIENT_ENVIRONMENT, s3_filesystem

DEFAULT_LANDING_FOLDER = "landing"


class OutsideLandingZoneError(TerminalError):
    """A landed file is a symbolic link (or under one) that resolves outside the landing zone."""


@dataclass(frozen=True)
class LandedFile:
    path: str  # relative to the landing root, `/`-separated
    uri: str
    size: int
    modified: str | None  # ISO 8601 UTC, to the nanosecond when the file system knows it


class LandingZone:
    def __init__(self, filesystem: pafs.FileSystem, root: str, uri_prefix: str) -> None:
        self.filesystem = filesystem
        self.root = root.rstrip("/")
        self.uri_prefix = uri_prefix.rstrip("/")

    @classmethod
    def from_settings(cls, settings: Settings) -> LandingZone:
        """``files.landing`` (a folder or ``s3://bucket/prefix``), by default ``$CIVICLAKE_HOME/landing``."""
        landing = settings.files.landing or str(settings.home / DEFAULT_LANDING_FOLDER)
        if landing.startswith(("s3://", "s3a://")):
            location = landing.split("://", 1)[1].strip("/")
            if not location:
                raise ConfigurationError(f"files.landing {landing!r} names no bucket (CIVICLAKE__FILES__LANDING)")
            return cls(_s3(settings), location, f"s3://{location}")
        if "://" in landing and not landing.startswith("file://"):
            raise ConfigurationError(
                f"files.landing {landing!r}: only a local folder or s3://bucket/prefix is supported "
                "(CIVICLAKE__FILES__LANDING)"
            )
        folder = Path(landing.removeprefix("file://")).resolve()
        return cls(pafs.LocalFileSystem(), str(folder), folder.as_uri())

    def exists(self) -> bool:
        return self.filesystem.get_file_info(self.root).type != pafs.FileType.NotFound

    def list_files(self) -> list[LandedFile]:
        """Every file under the root, sorted by path (zero-padded batch folders sort in time order)."""
        selector = pafs.FileSelector(self.root, recursive=True, allow_not_found=True)
        prefix = self.root + "/"
        files = [
            LandedFile(
                path=(relative := info.path.removeprefix(prefix)),
                uri=self.uri(relative),
                size=info.size or 0,
                modified=_modified(info),
            )
            for info in self.filesystem.get_file_info(selector)
            if info.is_file
        ]
        return sorted(files, key=lambda landed: landed.path)

    def uri(self, relative: str) -> str:
        return f"{self.uri_prefix}/{relative}"

    def open(self, relative: str) -> BinaryIO:
        path = f"{self.root}/{relative}"
        if isinstance(self.filesystem, pafs.LocalFileSystem):
            # The resolved path is what gets opened: a link swapped after the check cannot redirect the read.
            path = self._resolved_inside(relative)
        return cast(BinaryIO, self.filesystem.open_input_stream(path))

    def _resolved_inside(self, relative: str) -> str:
        root = os.path.realpath(self.root)
        resolved = os.path.realpath(os.path.join(self.root, relative))
        if os.path.commonpath([root, resolved]) != root:
            raise OutsideLandingZoneError(
                f"{relative} is a symbolic link (or in a linked folder) resolving to {resolved}, outside the "
                f"landing zone {root}: refused, links must stay inside the landing zone"
            )
        return resolved


def _s3(settings: Settings) -> pafs.FileSystem:
    if settings.s3.endpoint_url or settings.s3.bucket:
        return s3_filesystem(settings)
    # A landing bucket on AWS itself: no endpoint to set, credentials from the usual AWS variables.
    for name, value in S3_CLIENT_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    return pafs.S3FileSystem(region=settings.s3.region)


def _modified(info: pafs.FileInfo) -> str | None:
    nanoseconds = info.mtime_ns
    if nanoseconds is None:
        return None
    seconds, fraction = divmod(nanoseconds, 1_000_000_000)
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%dT%H:%M:%S}.{fraction:09d}Z"
