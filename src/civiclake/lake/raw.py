"""The raw zone: every downloaded file, kept as it came, with a JSON manifest beside it.

Layout: ``raw/<source>/<dataset>/<resource>/extracted_at=YYYY-MM-DD/<HHMMSS>_<sha12>_<file>`` and
``<that path>.manifest.json``. Files whose bytes fail verification (a checksum mismatch) go under
``quarantine/`` with the same layout, so nothing is lost and nothing unverified is loaded.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from civiclake.formats import DetectedFormat
from civiclake.lake.filesystem import LakeStorage
from civiclake.redaction import redact_text, redact_url
from civiclake.sources.base import Resource
from civiclake.sources.http import Download

Zone = Literal["raw", "quarantine"]
_UNSAFE_FILE_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")
_KEPT_HEADERS = (
    "content-type", "content-length", "content-encoding", "content-disposition", "etag", "last-modified",
    "date", "server", "cache-control", "x-amz-version-id",
)  # fmt: skip


@dataclass(frozen=True)
class RawFile:
    zone: Zone
    path: str  # relative to the lake root
    uri: str
    sha256: str
    size: int

    @property
    def manifest_path(self) -> str:
        return f"{self.path}.manifest.json"


def raw_file_name(url: str) -> str:
    """A safe file name from the URL's last segment: ``Caract_2024.csv`` stays, ``a b?.csv`` is cleaned."""
    name = unquote(PurePosixPath(urlsplit(url).path).name) or "resource"
    return _UNSAFE_FILE_CHARACTERS.sub("_", name).strip("._")[:120] or "resource"


class RawZone:
    def __init__(self, storage: LakeStorage) -> None:
        self.storage = storage

    def relative_path(
        self, zone: Zone, resource: Resource, names: tuple[str, str], extracted_at: datetime, sha256: str, url: str
    ) -> str:
        dataset_name, resource_name = names
        return (
            f"{zone}/{resource.source}/{dataset_name}/{resource_name}/extracted_at={extracted_at:%Y-%m-%d}/"
            f"{extracted_at:%H%M%S}_{sha256[:12]}_{raw_file_name(url)}"
        )

    def store(
        self,
        local_file: Path,
        *,
        zone: Zone,
        resource: Resource,
        names: tuple[str, str],
        download: Download,
        extracted_at: datetime,
        detected: DetectedFormat | None,
        checksum_verified: bool | None,
        error: str | None = None,
    ) -> RawFile:
        """Upload the file then its manifest; the manifest's presence means the file is complete."""
        relative = self.relative_path(zone, resource, names, extracted_at, download.sha256, download.final_url)
        self.storage.put_file(local_file, relative)
        raw = RawFile(zone, relative, self.storage.uri(relative), download.sha256, download.size)
        manifest = build_manifest(resource, download, extracted_at, detected, checksum_verified, raw, error)
        self.storage.write_bytes(raw.manifest_path, json.dumps(manifest, indent=2, ensure_ascii=False).encode())
        return raw

    def read_manifest(self, raw: RawFile) -> dict[str, Any]:
        return json.loads(self.storage.read_bytes(raw.manifest_path))


def build_manifest(
    resource: Resource,
    download: Download,
    extracted_at: datetime,
    detected: DetectedFormat | None,
    checksum_verified: bool | None,
    raw: RawFile,
    error: str | None,
) -> dict[str, Any]:
    return {
        "zone": raw.zone,
        "path": raw.path,
        "source": resource.source,
        "dataset_id": resource.dataset_id,
        "dataset_slug": resource.dataset_slug,
        "resource_id": resource.resource_id,
        "resource_title": resource.title,
        "source_url": redact_url(download.url),
        "final_url": redact_url(download.final_url),
        "http_status": download.status,
        "http_headers": {key: value for key, value in download.headers.items() if key.lower() in _KEPT_HEADERS},
        "size": download.size,
        "sha256": download.sha256,
        "catalogue_checksum": asdict(resource.checksum) if resource.checksum else None,
        "checksum_verified": checksum_verified,
        "catalogue_last_modified": resource.last_modified,
        "declared_format": resource.declared_format,
        "detected_format": asdict(detected) if detected else None,
        "extracted_at": extracted_at.isoformat(),
        "error": redact_text(error),
    }
