"""Local disk and S3 behind one interface (pyarrow's file systems).

``LakeStorage`` addresses files by paths relative to the lake root, so the raw zone and the bronze
loader never build URLs themselves. Writes are atomic: on disk a temporary name then a rename, on S3 a
single upload (an object only appears once its upload completes).
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs

from civiclake.config import Settings
from civiclake.errors import ConfigurationError

# Some S3 servers (Ceph's radosgw, some MinIO versions) refuse the aws-chunked uploads newer AWS SDKs send by default.
S3_CLIENT_ENVIRONMENT = {
    "AWS_REQUEST_CHECKSUM_CALCULATION": "WHEN_REQUIRED",
    "AWS_RESPONSE_CHECKSUM_VALIDATION": "WHEN_REQUIRED",
}
COPY_BUFFER_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class LakeStorage:
    filesystem: pafs.FileSystem
    root: str  # path inside the file system: an absolute directory, or "<bucket>/<prefix>"
    uri_prefix: str  # what Iceberg and DuckDB call the root: file:///abs/dir or s3://bucket/prefix

    def path(self, relative: str) -> str:
        return f"{self.root.rstrip('/')}/{relative.lstrip('/')}"

    def uri(self, relative: str) -> str:
        return f"{self.uri_prefix.rstrip('/')}/{relative.lstrip('/')}"

    @property
    def is_local(self) -> bool:
        return isinstance(self.filesystem, pafs.LocalFileSystem)

    def exists(self, relative: str) -> bool:
        return self.filesystem.get_file_info(self.path(relative)).type != pafs.FileType.NotFound

    def read_bytes(self, relative: str) -> bytes:
        with self.filesystem.open_input_stream(self.path(relative)) as stream:
            return stream.read()

    def list_files(self, relative_dir: str) -> list[str]:
        selector = pafs.FileSelector(self.path(relative_dir), recursive=True, allow_not_found=True)
        prefix = self.root.rstrip("/") + "/"
        return sorted(
            info.path.removeprefix(prefix) for info in self.filesystem.get_file_info(selector) if info.is_file
        )

    def write_bytes(self, relative: str, data: bytes) -> None:
        if self.is_local:
            target = Path(self.path(relative))
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            temporary.write_bytes(data)
            os.replace(temporary, target)
            return
        with self.filesystem.open_output_stream(self.path(relative)) as stream:
            stream.write(data)

    def put_file(self, local_file: Path, relative: str) -> None:
        """Copy a local file into the lake, atomically, without holding it in memory.

        The caller must not write to ``local_file`` afterwards: on a local lake the two may share their bytes.
        """
        if self.is_local:
            target = Path(self.path(relative))
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            try:
                # Lake files are never written again once kept: a second link to the same bytes is a copy
                # that costs nothing (a gigabyte took a third of a second to copy).
                os.link(local_file, temporary)
            except OSError:  # another filesystem, or one without hard links
                shutil.copyfile(local_file, temporary)
            os.replace(temporary, target)
            return
        with local_file.open("rb") as source, self.filesystem.open_output_stream(self.path(relative)) as sink:
            shutil.copyfileobj(source, sink, COPY_BUFFER_BYTES)

    def get_file(self, relative: str, local_file: Path) -> None:
        with self.filesystem.open_input_stream(self.path(relative)) as source, local_file.open("wb") as sink:
            shutil.copyfileobj(source, sink, COPY_BUFFER_BYTES)

    def delete(self, relative: str) -> None:
        self.filesystem.delete_file(self.path(relative))


def s3_filesystem(settings: Settings) -> pafs.S3FileSystem:
    s3 = settings.s3
    if not s3.endpoint_url and not s3.bucket:
        raise ConfigurationError(
            "the cluster profile needs CIVICLAKE__S3__BUCKET (and usually CIVICLAKE__S3__ENDPOINT_URL)"
        )
    for name, value in S3_CLIENT_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    options: dict[str, object] = {"region": s3.region}
    if s3.endpoint_url:
        scheme, _, host = s3.endpoint_url.partition("://")
        options.update(endpoint_override=host.rstrip("/"), scheme=scheme or "https")
    if s3.access_key_id and s3.secret_access_key:
        options.update(
            access_key=s3.access_key_id.get_secret_value(), secret_key=s3.secret_access_key.get_secret_value()
        )
    return pafs.S3FileSystem(**options)


def lake_storage(settings: Settings) -> LakeStorage:
    """Where raw files live: ``$CIVICLAKE_HOME/lake`` locally, ``s3://<bucket>`` on the cluster."""
    if settings.profile == "cluster":
        bucket = _bucket(settings)
        return LakeStorage(s3_filesystem(settings), bucket, f"s3://{bucket}")
    root = (settings.home / "lake").resolve()
    root.mkdir(parents=True, exist_ok=True)
    return LakeStorage(pafs.LocalFileSystem(), str(root), root.as_uri())


def warehouse_storage(settings: Settings) -> LakeStorage:
    """Where Iceberg tables live: ``$CIVICLAKE_HOME/warehouse`` or ``s3://<bucket>/warehouse``."""
    if settings.profile == "cluster":
        bucket = _bucket(settings)
        return LakeStorage(s3_filesystem(settings), f"{bucket}/warehouse", f"s3://{bucket}/warehouse")
    root = (settings.home / "warehouse").resolve()
    root.mkdir(parents=True, exist_ok=True)
    return LakeStorage(pafs.LocalFileSystem(), str(root), root.as_uri())


def _bucket(settings: Settings) -> str:
    if not settings.s3.bucket:
        raise ConfigurationError("the cluster profile needs CIVICLAKE__S3__BUCKET")
    return settings.s3.bucket
