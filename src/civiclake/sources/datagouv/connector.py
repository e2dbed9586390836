"""Discovery and download against the data.gouv.fr API.

Datasets are chosen by id or slug (``/1/datasets/{id}/``... through v2, whose resources come in pages
for datasets with thousands of files) or by search (``/1/datasets/?q=&organization=&tag=``). Each
dataset's resources are filtered: only ``main``/``update`` files with a tabular or geographic format,
within the size limit; documentation, PDFs and web pages are reported as skipped.

Datasets chosen by id are asked for a few at once (as many as the host's connection limit), and yielded in the
registry's order; files may be downloaded from several threads (``concurrent_fetch``).
"""

from __future__ import annotations

import fnmatch
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from civiclake.config import DatagouvSettings, HttpSettings
from civiclake.errors import CivicLakeError, SourceError
from civiclake.registry import DatagouvDataset, DatagouvRegistry, DatagouvSearch
from civiclake.sources.base import (
    Checksum,
    DatasetInfo,
    DiscoveredDataset,
    DiscoveryFailure,
    Resource,
    SkippedResource,
)
from civiclake.sources.http import Download, HttpClient, ProgressCallback, in_background, iter_pages

SOURCE = "datagouv"

# What producers type in `format` for files civiclake can read; the bytes are sniffed anyway.
TABULAR_FORMATS = frozenset(
    {"csv", "csv.gz", "tsv", "txt", "json", "jsonl", "ndjson", "geojson", "zip", "xlsx", "xls", "parquet", "gz"}
)


@dataclass(frozen=True)
class DatagouvSelection:
    """What to sync: registry entries, plus ad-hoc ids and searches from the command line."""

    datasets: list[DatagouvDataset] = field(default_factory=list)
    searches: list[DatagouvSearch] = field(default_factory=list)

    @classmethod
    def from_registry(cls, registry: DatagouvRegistry) -> DatagouvSelection:
        return cls(datasets=list(registry.datasets), searches=list(registry.searches))


class DatagouvConnector:
    source = SOURCE
    concurrent_fetch = True  # the HTTP client is shared by the download threads, within each host's limits

    def __init__(self, settings: DatagouvSettings, http: HttpSettings, selection: DatagouvSelection) -> None:
        self.settings = settings
        self.selection = selection
        self.api_url = settings.api_url.rstrip("/")
        self.client = HttpClient(http)
        self.lookahead = http.max_connections_per_host

    def close(self) -> None:
        self.client.close()

    def discover(self) -> Iterator[DiscoveredDataset | DiscoveryFailure]:
        seen: set[str] = set()
        for entry, answer in self._prefetched(self.selection.datasets):
            try:
                dataset = answer.result()
            except CivicLakeError as error:
                yield DiscoveryFailure(SOURCE, entry.id, str(error))
                continue
            if dataset["id"] not in seen:
                seen.add(dataset["id"])
                yield self._select(dataset, entry)
        for search in self.selection.searches:
            try:
                for dataset in self._search(search):
                    if dataset["id"] not in seen:
                        seen.add(dataset["id"])
                        yield self._select(dataset, None)
            except CivicLakeError as error:
                yield DiscoveryFailure(SOURCE, _describe_search(search), str(error))

    def _prefetched(self, entries: list[DatagouvDataset]) -> Iterator[tuple[DatagouvDataset, Future[dict[str, Any]]]]:
        """Each entry with its dataset's answer, asked ``lookahead`` entries ahead of the one yielded.

        A round trip per dataset is most of a re-sync where nothing changed: asked one after the other, 10,000
        datasets wait for 20,000 answers in turn.
        """
        asked: deque[tuple[DatagouvDataset, Future[dict[str, Any]]]] = deque()
        waiting = iter(entries)
        while True:
            while len(asked) < self.lookahead:
                entry = next(waiting, None)
                if entry is None:
                    break
                asked.append((entry, in_background(self._get_dataset, entry.id)))
            if not asked:
                return
            yield asked.popleft()

    def fetch(
        self, resource: Resource, destination: Path, on_progress: ProgressCallback | None, cursor: str | None = None
    ) -> Download:
        algorithms = (resource.checksum.algorithm,) if resource.checksum else ()
        return self.client.download(
            resource.url,
            destination,
            max_bytes=resource.max_bytes,
            checksum_algorithms=algorithms,
            on_progress=on_progress,
            expected_bytes=resource.filesize,
        )

    def _get_dataset(self, reference: str) -> dict[str, Any]:
        dataset = self.client.get_json(f"{self.api_url}/2/datasets/{reference}/")
        if not isinstance(dataset, dict) or "id" not in dataset:
            raise SourceError(f"dataset {reference}: the API answered without a dataset object")
        link = dataset.get("resources")
        if isinstance(link, dict) and link.get("href"):
            # v2 gives resources as a paginated subsection: large datasets hold thousands of files.
            dataset = {**dataset, "resources": list(iter_pages(self.client, link["href"]))}
        return dataset

    def _search(self, search: DatagouvSearch) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {"page_size": min(self.settings.page_size, search.max_datasets)}
        if search.query:
            params["q"] = search.query
        if search.organization:
            params["organization"] = search.organization
        if search.tags:
            params["tag"] = list(search.tags)
        for count, dataset in enumerate(iter_pages(self.client, f"{self.api_url}/1/datasets/", params), 1):
            yield dataset
            if count >= search.max_datasets:
                return

    def _select(self, dataset: dict[str, Any], entry: DatagouvDataset | None) -> DiscoveredDataset:
        info = _dataset_info(dataset, entry)
        resources: list[Resource] = []
        skipped: list[SkippedResource] = []
        max_bytes = (
            entry.max_resource_bytes
            if entry and entry.max_resource_bytes is not None
            else self.settings.max_resource_bytes
        )
        for item in dataset.get("resources") or []:
            reason = self._skip_reason(item, entry)
            if reason:
                skipped.append(SkippedResource(str(item.get("id")), str(item.get("title") or ""), reason))
                continue
            resources.append(_resource(info, item, _limit_for(item, entry, max_bytes)))
        return DiscoveredDataset(dataset=info, resources=resources, skipped=skipped, name=entry.name if entry else None)

    def _skip_reason(self, item: dict[str, Any], entry: DatagouvDataset | None) -> str | None:
        if entry and entry.resources is not None:
            wanted = any(_matches(item, pattern) for pattern in entry.resources)
            if not wanted:
                return "not selected in the registry"
        kind = item.get("type")
        if kind not in self.settings.resource_types:
            return f"type {kind!r} (only {', '.join(self.settings.resource_types)} are loaded)"
        if not item.get("url"):
            return "no url"
        declared = _declared_format(item)
        if declared not in TABULAR_FORMATS:
            return f"format {declared or 'unknown'!r} is not tabular"
        return None


def _limit_for(item: dict[str, Any], entry: DatagouvDataset | None, dataset_limit: int) -> int:
    """A resource's own limit from the registry (by id, then title glob), else its dataset's."""
    if entry is None:
        return dataset_limit
    for pattern, limit in entry.resource_limits.items():
        if _matches(item, pattern):
            return limit
    return dataset_limit


def _matches(item: dict[str, Any], pattern: str) -> bool:
    return item.get("id") == pattern or fnmatch.fnmatch(str(item.get("title", "")).lower(), pattern.lower())


def _declared_format(item: dict[str, Any]) -> str:
    """The producer's format, or the URL's extension when the format field is empty or vague."""
    declared = str(item.get("format") or "").strip().lower().lstrip(".")
    if declared in TABULAR_FORMATS:
        return declared
    suffixes = PurePosixPath(urlsplit(str(item.get("url", ""))).path).suffixes
    from_url = (
        "".join(suffixes[-2:]).lower().lstrip(".")
        if suffixes[-1:] == [".gz"]
        else "".join(suffixes[-1:]).lower().lstrip(".")
    )
    return from_url if from_url in TABULAR_FORMATS else declared


def _dataset_info(dataset: dict[str, Any], entry: DatagouvDataset | None) -> DatasetInfo:
    organization = dataset.get("organization") or {}
    owner = dataset.get("owner") or {}
    publisher = organization.get("name") or " ".join(
        str(owner.get(key)) for key in ("first_name", "last_name") if owner.get(key)
    )
    return DatasetInfo(
        source=SOURCE,
        dataset_id=str(dataset["id"]),
        slug=str(dataset.get("slug") or dataset["id"]),
        title=str(dataset.get("title") or ""),
        organization=publisher or None,
        frequency=(entry.frequency if entry and entry.frequency else dataset.get("frequency")),
        last_modified=dataset.get("last_modified"),
        page_url=dataset.get("page"),
        raw=dataset,
    )


def _resource(info: DatasetInfo, item: dict[str, Any], max_bytes: int) -> Resource:
    checksum = item.get("checksum")
    filesize = item.get("filesize")
    return Resource(
        source=SOURCE,
        dataset_id=info.dataset_id,
        dataset_slug=info.slug,
        resource_id=str(item["id"]),
        title=str(item.get("title") or item["id"]),
        url=str(item["url"]),
        declared_format=_declared_format(item) or None,
        filesize=int(filesize) if isinstance(filesize, int | float) else None,
        checksum=Checksum(str(checksum["type"]), str(checksum["value"]))
        if isinstance(checksum, dict) and checksum.get("type") and checksum.get("value")
        else None,
        last_modified=item.get("last_modified"),
        max_bytes=max_bytes,
    )


def _describe_search(search: DatagouvSearch) -> str:
    parts = [
        f"q={search.query!r}" if search.query else "",
        f"organization={search.organization}" if search.organization else "",
    ]
    parts += [f"tag={tag}" for tag in search.tags]
    return "search " + " ".join(part for part in parts if part)
