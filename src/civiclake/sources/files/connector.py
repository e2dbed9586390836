"""Discovery and copy for files dropped in the landing zone.

Each file is a resource: its id is its path relative to the landing root, its entity comes from the
pattern it matches, so every drop of ``olist_orders_dataset.csv`` appends to ``bronze.files__olist__orders``.
Change detection is the pipeline's: the change marker is the file's modification time and size (listing
a bucket costs one request, hashing every file on every run would read them all), and the sha256,
computed while the file is copied, stops a re-dropped file with the same bytes from being loaded twice.
Files that match no pattern are reported as skipped, never silently ignored.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from civiclake.config import Settings
from civiclake.errors import SourceError, TooLargeError
from civiclake.sources.base import DatasetInfo, DiscoveredDataset, DiscoveryFailure, Resource, SkippedResource
from civiclake.sources.digests import StreamDigests
from civiclake.sources.files.landing import LandedFile, LandingZone
from civiclake.sources.files.patterns import FilePatterns
from civiclake.sources.http import Download, ProgressCallback

SOURCE = "files"
UNMATCHED_DATASET = "unmatched"
COPY_CHUNK_BYTES = 1024 * 1024
logger = logging.getLogger(__name__)


class FilesConnector:
    source = SOURCE

    def __init__(
        self, landing: LandingZone, patterns: FilePatterns, *, max_file_bytes: int | None, landing_required: bool
    ) -> None:
        self.landing = landing
        self.patterns = patterns
        self.max_file_bytes = max_file_bytes
        # A landing zone the settings name must exist; the default one only appears with the first drop.
        self.landing_required = landing_required
        self.skipped: list[SkippedResource] = []

    @classmethod
    def from_settings(cls, settings: Settings) -> FilesConnector:
        return cls(
            LandingZone.from_settings(settings),
            FilePatterns(settings.files.patterns),
            max_file_bytes=settings.files.max_file_bytes,
            landing_required=settings.files.landing is not None,
        )

    def close(self) -> None:
        return None

    def discover(self) -> Iterator[DiscoveredDataset | DiscoveryFailure]:
        self.skipped = []
        try:
            if not self.landing.exists():
                if self.landing_required:
                    yield DiscoveryFailure(SOURCE, self.landing.uri_prefix, "the landing zone does not exist")
                return
            landed = self.landing.list_files()
        except OSError as error:  # an unreachable bucket, a folder without permission
            yield DiscoveryFailure(SOURCE, self.landing.uri_prefix, f"cannot list the landing zone: {error}")
            return

        by_dataset: dict[str, list[Resource]] = defaultdict(list)
        for item in landed:
            reason = _ignored_reason(item)
            matched = None if reason else self.patterns.match(item.path)
            if matched is None:
                skipped = SkippedResource(item.path, item.path, reason or "matches no pattern in files.patterns")
                logger.warning("files: %s skipped: %s", item.uri, skipped.reason)
                self.skipped.append(skipped)
                continue
            by_dataset[matched.dataset].append(self._resource(item, matched.dataset, matched.entity))

        for dataset in self.patterns.datasets:
            resources = by_dataset.get(dataset, [])
            if resources:
                yield DiscoveredDataset(self._dataset_info(dataset, resources), resources, skipped=[], name=dataset)
        if self.skipped:
            yield DiscoveredDataset(self._dataset_info(UNMATCHED_DATASET, []), [], list(self.skipped))

    def fetch(
        self, resource: Resource, destination: Path, on_progress: ProgressCallback | None, cursor: str | None = None
    ) -> Download:
        """Copy the file in chunks, hashing as it goes; a file that changes size meanwhile is refused."""
        with (
            self.landing.open(resource.resource_id) as source,
            destination.open("wb") as sink,
            StreamDigests(copy_to=sink) as digests,
        ):
            while chunk := source.read(COPY_CHUNK_BYTES):
                digests.update(chunk)
                if resource.max_bytes is not None and digests.size > resource.max_bytes:
                    raise TooLargeError(f"grew past the limit of {resource.max_bytes} bytes while being copied")
                if on_progress:
                    on_progress(len(chunk))
            sha256, size = digests.hexdigests()["sha256"], digests.size
        if resource.filesize is not None and size != resource.filesize:
            raise SourceError(
                f"changed while being copied ({resource.filesize} bytes listed, {size} read): "
                "still being written? It is copied again on the next run"
            )
        headers = {"content-length": str(size)}
        if resource.last_modified:
            headers["last-modified"] = resource.last_modified
        # Not HTTP: status 0 tells the raw manifest's reader that no server answered.
        return Download(url=resource.url, final_url=resource.url, status=0, headers=headers, size=size, sha256=sha256)

    def _resource(self, item: LandedFile, dataset: str, entity: str) -> Resource:
        return Resource(
            source=SOURCE,
            dataset_id=dataset,
            dataset_slug=dataset,
            resource_id=item.path,
            title=item.path,
            url=item.uri,
            declared_format=PurePosixPath(item.path).suffix.lstrip(".").lower() or None,
            filesize=item.size,
            checksum=None,  # unknown until the copy hashes the bytes
            last_modified=item.modified,
            max_bytes=self.max_file_bytes,
            entity=entity,
        )

    def _dataset_info(self, dataset: str, resources: list[Resource]) -> DatasetInfo:
        modified = [resource.last_modified for resource in resources if resource.last_modified]
        title = (
            f"files in {self.landing.uri_prefix} matching no pattern"
            if dataset == UNMATCHED_DATASET
            else f"{dataset} files in {self.landing.uri_prefix}"
        )
        return DatasetInfo(
            source=SOURCE,
            dataset_id=dataset,
            slug=dataset,
            title=title,
            organization=None,
            frequency=None,
            last_modified=max(modified) if modified else None,
            page_url=self.landing.uri_prefix,
        )


def _ignored_reason(item: LandedFile) -> str | None:
    """Files a writer has not finished (``.part``, ``.tmp``, under a dot folder) are left for a later run."""
    path = PurePosixPath(item.path)
    if any(part.startswith(".") for part in path.parts):
        return "hidden or temporary (a name in its path starts with '.')"
    name = path.name
    if name.endswith((".tmp", ".part", ".partial")):
        return "upload in progress (temporary file name)"
    return None
