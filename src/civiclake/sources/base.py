"""The shape every connector shares."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from civiclake.sources.http import Download, ProgressCallback


@dataclass(frozen=True)
class Checksum:
    type: str  # sha1, sha2, sha256, md5, crc — as the catalogue names it
    value: str

    @property
    def algorithm(self) -> str:
        """hashlib's name for the catalogue's checksum type (udata's ``sha2`` is SHA-256)."""
        return {"sha2": "sha256"}.get(self.type.lower(), self.type.lower())


@dataclass(frozen=True)
class Resource:
    """One downloadable file of a dataset, as the source describes it."""

    source: str
    dataset_id: str
    dataset_slug: str
    resource_id: str
    title: str
    url: str
    declared_format: str | None = None
    filesize: int | None = None
    checksum: Checksum | None = None
    last_modified: str | None = None
    max_bytes: int | None = None  # size limit for this resource (registry override or source default)
    # Incremental resources (a database table, an API collection) are fetched on every run from the
    # cursor the last success saved; the catalogue-style change marker does not apply to them.
    incremental: bool = False
    # Resources that name the same entity load into one table (each file dropped for Olist ``orders``
    # is its own resource, tracked on its own, but they all append to ``bronze.files__olist__orders``).
    entity: str | None = None

    @property
    def label(self) -> str:
        """How errors and summaries name the resource: ``<dataset>/<resource title> (<id>)``."""
        return f"{self.dataset_slug}/{self.title} ({self.resource_id})"

    @property
    def change_marker(self) -> str:
        """What must differ for the resource to be downloaded again."""
        checksum = f"{self.checksum.type}:{self.checksum.value}" if self.checksum else "-"
        return f"{self.last_modified or '-'}|{checksum}|{self.filesize if self.filesize is not None else '-'}"


@dataclass(frozen=True)
class SkippedResource:
    resource_id: str
    title: str
    reason: str


@dataclass(frozen=True)
class DatasetInfo:
    """The catalogue's description of a dataset, snapshotted into ``meta.datasets``."""

    source: str
    dataset_id: str
    slug: str
    title: str
    organization: str | None
    frequency: str | None
    last_modified: str | None
    page_url: str | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class DiscoveredDataset:
    dataset: DatasetInfo
    resources: list[Resource]
    skipped: list[SkippedResource]
    name: str | None = None  # the registry's name for the dataset, when it gives one


@dataclass(frozen=True)
class DiscoveryFailure:
    """A dataset that could not be discovered (404, 410, API down): reported, the others go on."""

    source: str
    reference: str
    error: str


class Connector(Protocol):
    source: str

    def discover(self) -> Iterator[DiscoveredDataset | DiscoveryFailure]: ...

    def fetch(
        self, resource: Resource, destination: Path, on_progress: ProgressCallback | None, cursor: str | None
    ) -> Download:
        """Write the resource's bytes to ``destination``; ``cursor`` is what the last success of an
        incremental resource saved (``Download.cursor``), None for a first or full run."""
        ...

    def close(self) -> None: ...
