"""The sync pipeline every source shares: discover, download, keep raw, load bronze, record.

A resource's failure is recorded (``meta.ingestions``, the run's report) and the run goes on with the
others. Bytes that were downloaded are always kept, in ``raw/`` or, when they failed verification, in
``quarantine/``. A resource whose catalogue entry has not changed since its last success is not
downloaded at all; one whose bytes have not changed is not loaded again.

Runs may overlap (two terminals, an Airflow retry beside a slow first try): a part is loaded under its table's
lock (``civiclake.warehouse.locks``), from the check that the table does not hold the raw file yet to the record
of the load, so one run loads it and the others find it there. Records are committed a batch at a time
(``_RecordBatch``): one ``meta.ingestions`` commit per resource cost more than the load of a small file, and grew
with the table's snapshots. A batch holds the locks of the tables it loaded until its records are committed, and
its resources' sync state moves only after that commit; it is committed before waiting for a lock another holds,
so two runs never wait for each other. A run killed between its commit and its record
leaves rows ``meta.ingestions`` does not mention: the next run that meets that raw file records them. Scratch
files live in a folder per run (``civiclake.lake.scratch``), deleted when the run ends or, after a kill, by the
next run.

Within a run, the files of several resources download at once (``http.max_concurrent_downloads``, on threads; the
HTTP client keeps each host's limits) while the main thread reads and loads, one resource at a time, in the order
discovery gave them: what a run records is what a one-at-a-time run records, and loading keeps to its cores.
Only connectors that say their ``fetch`` may run on several threads at once (``concurrent_fetch``) get this.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from civiclake.config import Settings
from civiclake.errors import ChecksumMismatchError, CivicLakeError, TooLargeError
from civiclake.formats import DetectedFormat, ReadLimits, detect_format, open_tabular
from civiclake.lake.filesystem import lake_storage, warehouse_storage
from civiclake.lake.raw import RawFile, RawZone
from civiclake.lake.scratch import RunScratch, remove_abandoned
from civiclake.naming import bound_length, normalise_identifier
from civiclake.sources.base import Connector, DiscoveredDataset, DiscoveryFailure, Resource
from civiclake.sources.http import Download, in_background
from civiclake.warehouse.bronze import NAMESPACE, BronzeLoader, CommittedFile, Lineage
from civiclake.warehouse.catalog import open_catalog
from civiclake.warehouse.locks import TableHeldError, TableLocks
from civiclake.warehouse.meta import DATASET_LEVEL, DatasetRecord, IngestionRecord, MetaTables
from civiclake.warehouse.state import ResourceState, SyncState

MAX_TABLE_NAME = 120
# A batch of records is committed when it holds this many table locks (a PostgreSQL session each), this many
# records, or is this old: another run waiting for one of its tables waits that long at most, beyond its loads.
BATCH_MAX_LOCKS = 16
BATCH_MAX_RECORDS = 500
BATCH_MAX_SECONDS = 10.0


@dataclass
class ResourceOutcome:
    source: str
    dataset: str
    dataset_id: str
    resource: str
    resource_id: str
    status: str  # loaded | unchanged | failed | refused
    format: str | None = None
    rows: int = 0
    bytes: int = 0
    tables: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class SyncReport:
    batch_id: str
    outcomes: list[ResourceOutcome] = field(default_factory=list)
    discovery_failures: list[DiscoveryFailure] = field(default_factory=list)
    datasets: int = 0
    # (source, dataset_id) of datasets discovered with nothing to load (every resource skipped, or none at all).
    idle_datasets: list[tuple[str, str]] = field(default_factory=list)
    # Why each of them loaded nothing, as "<dataset>: <reason>" (shown by `civiclake sync`).
    idle_reasons: list[str] = field(default_factory=list)

    @classmethod
    def combined(cls, reports: list[SyncReport]) -> SyncReport:
        """One report for a run that synced several sources (one batch each)."""
        return cls(
            batch_id=",".join(report.batch_id for report in reports),
            outcomes=[outcome for report in reports for outcome in report.outcomes],
            discovery_failures=[failure for report in reports for failure in report.discovery_failures],
            datasets=sum(report.datasets for report in reports),
            idle_datasets=[idle for report in reports for idle in report.idle_datasets],
            idle_reasons=[reason for report in reports for reason in report.idle_reasons],
        )

    @property
    def failed(self) -> list[ResourceOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status in ("failed", "refused")]

    @property
    def exit_code(self) -> int:
        """0 when everything loaded; 1 when some resources or datasets failed (the others were loaded)."""
        return 1 if self.failed or self.discovery_failures else 0


class ProgressHooks:
    """What the command line shows while a run goes; the default shows nothing."""

    def resource_started(self, resource: Resource) -> Callable[[int], None] | None:
        return None

    def resource_finished(self, outcome: ResourceOutcome) -> None:
        return None


class SyncPipeline:
    def __init__(self, settings: Settings, progress: ProgressHooks | None = None) -> None:
        self.settings = settings
        self.progress = progress or ProgressHooks()
        self.catalog = open_catalog(settings)
        self.raw_zone = RawZone(lake_storage(settings))
        self.loader = BronzeLoader(self.catalog, warehouse_storage(settings))
        self.meta = MetaTables(self.catalog)
        self.state = SyncState(settings.catalog_uri)
        self.table_locks = TableLocks(settings.catalog_uri, settings.catalog.name)
        self._scratch: RunScratch | None = None
        self._batch = _RecordBatch(self.meta, self.state, self.table_locks)
        self.limits = ReadLimits(
            max_archive_members=settings.reading.max_archive_members,
            max_expanded_bytes=settings.reading.max_expanded_bytes,
            max_compression_ratio=settings.reading.max_compression_ratio,
        )

    def close(self) -> None:
        self.state.close()
        self.table_locks.close()

    def sync(self, connector: Connector, *, full_refresh: bool = False) -> SyncReport:
        batch_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        report = SyncReport(batch_id)
        known = self.state.for_source(connector.source)
        dataset_records: list[DatasetRecord] = []
        # Dataset-level rows of meta.ingestions (no resource): a dataset that could not be discovered, or had
        # nothing to load, is on record with its reason like a resource that failed.
        dataset_outcomes: list[IngestionRecord] = []
        remove_abandoned(self.settings.scratch_dir)
        self._scratch = RunScratch.create(self.settings.scratch_dir, batch_id)
        self.loader.scratch_dir = self._scratch.path
        workers = self.settings.http.max_concurrent_downloads if getattr(connector, "concurrent_fetch", False) else 1
        fetcher = _Fetcher(workers)
        self._batch = batch = _RecordBatch(self.meta, self.state, self.table_locks)
        # Downloads started ahead of the resource being loaded; one more than the workers keeps them all busy
        # while the main thread loads, and bounds the scratch space held by files waiting to be loaded.
        pending: deque[_Job] = deque()

        def finish_oldest() -> None:
            outcome = self._finish_resource(pending.popleft(), batch_id, full_refresh)
            report.outcomes.append(outcome)
            batch.flush_when_due()
            self.progress.resource_finished(outcome)

        try:
            for found in connector.discover():
                if isinstance(found, DiscoveryFailure):
                    report.discovery_failures.append(found)
                    dataset_outcomes.append(
                        _dataset_outcome(batch_id, found.source, found.reference, "failed", _failure_message(found))
                    )
                    continue
                report.datasets += 1
                dataset_records.append(_dataset_record(batch_id, found))
                if not found.resources:
                    info = found.dataset
                    report.idle_datasets.append((info.source, info.dataset_id))
                    reason = _nothing_to_load(found)
                    report.idle_reasons.append(f"{found.name or info.slug or info.dataset_id}: {reason}")
                    dataset_outcomes.append(_dataset_outcome(batch_id, info.source, info.dataset_id, "skipped", reason))
                for resource in found.resources:
                    pending.append(self._start_resource(connector, found, resource, known, full_refresh, fetcher))
                    while len(pending) > workers:
                        finish_oldest()
            while pending:
                finish_oldest()
        finally:
            fetcher.close()  # downloads still going (an interrupted run) stop; nothing waits for them
            batch.flush()  # what was loaded is recorded, even when the run stopped early
            self._scratch.close()
            self._scratch = None
            self.loader.scratch_dir = None
            # One commit for the catalogue snapshot of the whole run, even when it stopped early.
            self.meta.append("datasets", dataset_records)
            self.meta.append("ingestions", dataset_outcomes)
        return report

    def _start_resource(
        self,
        connector: Connector,
        found: DiscoveredDataset,
        resource: Resource,
        known: dict[str, ResourceState],
        full_refresh: bool,
        fetcher: _Fetcher,
    ) -> _Job:
        """On the main thread: names, the checks that need no download, then the download handed to ``fetcher``."""
        dataset_label = found.name or found.dataset.slug
        outcome = ResourceOutcome(
            resource.source, dataset_label, resource.dataset_id, resource.title, resource.resource_id, "failed"
        )
        recorder = _Recorder(self._batch.records, "", resource, datetime.now(UTC))  # its batch id: when finished
        job = _Job(resource, outcome, recorder)
        try:
            job.previous = previous = known.get(resource.resource_id)
            limit, size = resource.max_bytes, resource.filesize
            too_large = limit is not None and size is not None and size > limit
            if (
                not too_large
                and not full_refresh
                and not resource.incremental
                and previous is not None
                and previous.last_status in ("loaded", "unchanged")
                and previous.change_marker == resource.change_marker
            ):
                # Its names were given when it was first seen: an unchanged resource costs no state round trip.
                outcome.status = "unchanged"
                job.settled = True
                return job
            job.names = self.state.assign_names(
                resource.source,
                resource.dataset_id,
                resource.resource_id,
                dataset_label,
                resource.title,
                entity=resource.entity,
            )
            if too_large:
                raise TooLargeError(
                    f"the catalogue gives {resource.filesize} bytes, over the limit of {resource.max_bytes} "
                    "(raise max_resource_bytes for this dataset in the registry to load it)"
                )
            assert self._scratch is not None, "resources are synced within a run"
            job.folder = self._scratch.new_folder()  # the download, and what reading it needs beside it
            job.extracted_at = datetime.now(UTC).replace(microsecond=0)
            cursor = None if full_refresh or previous is None else previous.cursor
            progress = self.progress.resource_started(resource)
            job.fetched = fetcher.start(connector, resource, job.folder / "download", progress, cursor)
        except Exception as error:  # reported when the job is finished, in the run's order
            job.error = error
        return job

    def _finish_resource(self, job: _Job, batch_id: str, full_refresh: bool) -> ResourceOutcome:
        """On the main thread: wait for the job's download, then check, keep, load and record it."""
        resource, outcome, recorder = job.resource, job.outcome, job.recorder
        recorder.batch_id = batch_id
        if job.settled:
            return outcome
        try:
            try:
                if job.error is not None:
                    raise job.error
                assert job.fetched is not None and job.names is not None and job.folder is not None
                download, seconds = job.fetched()
                recorder.downloaded = download
                recorder.download_seconds = seconds
                recorder.extracted_at = job.extracted_at
                self._download_and_load(
                    job.folder / "download", download, resource, job.names, job.previous, batch_id, full_refresh,
                    outcome, recorder,
                )  # fmt: skip
            finally:
                if job.folder is not None:
                    shutil.rmtree(job.folder, ignore_errors=True)
        except TooLargeError as error:
            outcome.status, outcome.error = "refused", f"{resource.label}: {error}"
            recorder.write(status="refused", error=outcome.error)
        except Exception as error:  # any failure stays with its resource; the run goes on
            outcome.status, outcome.error = "failed", f"{resource.label}: {_describe(error)}"
            recorder.write(status="failed", error=outcome.error)
        if outcome.status != "unchanged" or recorder.downloaded is not None:
            self._batch.record_state(
                resource.source,
                resource.resource_id,
                status=outcome.status,
                change_marker=resource.change_marker,
                cursor=recorder.downloaded.cursor if recorder.downloaded else None,
                sha256=recorder.raw.sha256 if recorder.raw else None,
                raw_path=recorder.raw.path if recorder.raw else None,
                error=outcome.error,
            )
        return outcome

    def _download_and_load(
        self,
        local_file: Path,
        download: Download,
        resource: Resource,
        names: tuple[str, str],
        previous: ResourceState | None,
        batch_id: str,
        full_refresh: bool,
        outcome: ResourceOutcome,
        recorder: _Recorder,
    ) -> None:
        extracted_at = recorder.extracted_at
        assert extracted_at is not None, "a downloaded resource has its extraction time"
        folder = local_file.parent
        outcome.bytes = download.size
        if download.records == 0:
            # An incremental fetch that found no change: nothing to keep, nothing to load.
            outcome.status = "unchanged"
            recorder.write(status="unchanged", raw_bytes=0)
            return

        verified = _verify_checksum(resource, download)
        if verified is False:
            raw = self._keep(local_file, "quarantine", resource, names, download, extracted_at, None, False)
            recorder.raw = raw
            raise ChecksumMismatchError(
                f"downloaded bytes do not match the catalogue's {resource.checksum.type} "  # type: ignore[union-attr]
                f"{resource.checksum.value} (got {_computed_digest(resource, download)}); "  # type: ignore[union-attr]
                f"kept in {raw.path}"
            )
        if not full_refresh and previous is not None and previous.sha256 == download.sha256:
            outcome.status = "unchanged"
            recorder.write(status="unchanged", raw_bytes=download.size)
            return

        detected: DetectedFormat | None = None
        try:
            detected = detect_format(local_file, resource.declared_format, self.limits)
        finally:
            # Bytes are kept even when they cannot be read: the manifest says what was seen.
            recorder.raw = self._keep(local_file, "raw", resource, names, download, extracted_at, detected, verified)
        recorder.format = detected
        outcome.format = detected.format
        self._load_parts(local_file, folder / "parts", resource, names, batch_id, extracted_at, outcome, recorder)

    def _load_parts(
        self,
        local_file: Path,
        workdir: Path,
        resource: Resource,
        names: tuple[str, str],
        batch_id: str,
        extracted_at: datetime,
        outcome: ResourceOutcome,
        recorder: _Recorder,
    ) -> None:
        raw = recorder.raw
        assert raw is not None
        parts = open_tabular(local_file, resource.declared_format, self.limits, workdir=workdir)
        failures = []
        part_statuses = set()
        for part in parts:
            table_name = _table_name(resource.source, names, part.name)
            clock = time.monotonic()
            lineage = Lineage(
                source=resource.source,
                dataset_id=resource.dataset_id,
                resource_id=resource.resource_id,
                extracted_at=extracted_at,
                ingested_at=datetime.now(UTC),
                raw_path=raw.uri,
                raw_sha256=raw.sha256,
                batch_id=batch_id,
            )
            properties = {
                "civiclake.source": resource.source,
                "civiclake.dataset-id": resource.dataset_id,
                "civiclake.dataset-slug": resource.dataset_slug,
                "civiclake.resource-id": resource.resource_id,
                "civiclake.resource-title": resource.title,
                "civiclake.part": part.name or "",
            }
            qualified = f"{NAMESPACE}.{table_name}"
            try:
                # Held until the load is recorded: a run that waited for it finds the rows and their record.
                self._batch.lock(qualified)
                result = self.loader.load(table_name, part, lineage, properties)
                if result.status == "unchanged":
                    self._record_unrecorded_load(qualified, part.name, part.format.encoding, raw, recorder)
                self.meta.append("schema_changes", result.schema_changes)
                recorder.write(
                    status=result.status,
                    part=part.name,
                    table=qualified,
                    rows=result.rows,
                    load_seconds=time.monotonic() - clock,
                    encoding=part.format.encoding,
                )
            except Exception as error:
                message = f"{resource.label}{' member ' + repr(part.name) if part.name else ''}: {_describe(error)}"
                failures.append(message)
                recorder.write(status="failed", error=message, part=part.name, table=qualified)
                continue
            part_statuses.add(result.status)
            outcome.rows += result.rows
            outcome.tables.append(qualified)
        if failures:
            outcome.status, outcome.error = "failed", "; ".join(failures)
        else:
            # Every part already in its table (a full refresh of identical bytes): nothing was added.
            outcome.status = "unchanged" if part_statuses == {"unchanged"} else "loaded"

    def _record_unrecorded_load(
        self, table: str, part: str | None, encoding: str | None, raw: RawFile, recorder: _Recorder
    ) -> None:
        """The table holds this raw file: when ``meta.ingestions`` has no "loaded" record of it, the run that
        committed it was killed before recording it; record that load now, from the rows themselves."""
        if self.meta.records_load(table, raw.sha256):
            return
        committed = self.loader.committed_file(table, raw.sha256)
        if committed is not None:
            recorder.write_recovered(committed, part=part, table=table, encoding=encoding)

    def _keep(
        self,
        local_file: Path,
        zone: str,
        resource: Resource,
        names: tuple[str, str],
        download: Download,
        extracted_at: datetime,
        detected: DetectedFormat | None,
        verified: bool | None,
    ) -> RawFile:
        return self.raw_zone.store(
            local_file,
            zone=zone,  # type: ignore[arg-type]
            resource=resource,
            names=names,
            download=download,
            extracted_at=extracted_at,
            detected=detected,
            checksum_verified=verified,
        )


@dataclass
class _Job:
    """A resource between its start (main thread) and its finish (main thread), its download maybe running."""

    resource: Resource
    outcome: ResourceOutcome
    recorder: _Recorder
    settled: bool = False  # decided without a download (unchanged)
    error: Exception | None = None  # raised while starting, reported when finished
    names: tuple[str, str] | None = None
    previous: ResourceState | None = None
    folder: Path | None = None
    extracted_at: datetime | None = None
    fetched: Callable[[], tuple[Download, float]] | None = None  # the download and its seconds, once done


class _DownloadStopped(CivicLakeError):
    """A download given up because its run is stopping."""


class _Fetcher:
    """Runs connectors' downloads on up to ``workers`` threads at once; with one worker, on the main thread.

    The threads are daemons, one per download (``in_background``), and nothing waits for them when a run stops
    early: a download held by a slow server must not keep an interrupted process (Ctrl-C) alive. Those still
    running stop at their next block; the run's scratch folder, where they write, goes with the run.
    """

    def __init__(self, workers: int) -> None:
        self._slots = threading.BoundedSemaphore(workers) if workers > 1 else None
        self._stopping = threading.Event()

    def start(
        self,
        connector: Connector,
        resource: Resource,
        destination: Path,
        progress: Callable[[int], None] | None,
        cursor: str | None,
    ) -> Callable[[], tuple[Download, float]]:
        def on_progress(size: int) -> None:
            if self._stopping.is_set():
                raise _DownloadStopped(f"{resource.label}: download stopped, the run is stopping")
            if progress is not None:
                progress(size)

        def fetch() -> tuple[Download, float]:
            clock = time.monotonic()
            download = connector.fetch(resource, destination, on_progress, cursor)
            return download, time.monotonic() - clock

        if self._slots is None:
            return fetch
        slots = self._slots

        def when_free() -> tuple[Download, float]:
            with slots:
                if self._stopping.is_set():
                    raise _DownloadStopped(f"{resource.label}: download not started, the run is stopping")
                return fetch()

        return in_background(when_free).result

    def close(self) -> None:
        """Downloads not started never start; those running stop at their next block."""
        self._stopping.set()


class _RecordBatch:
    """``meta.ingestions`` rows and sync-state moves of finished resources, and the table locks of their loads,
    until one commit records them all: then the state moves, then the locks go."""

    def __init__(self, meta: MetaTables, state: SyncState, locks: TableLocks) -> None:
        self.meta = meta
        self.state = state
        self.locks = locks
        self.records: list[IngestionRecord] = []
        self._states: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        self._held = ExitStack()
        self._locked: set[str] = set()
        self._opened = time.monotonic()

    def lock(self, table: str) -> None:
        """Take the table's lock, kept until the next commit; commit first rather than wait holding others."""
        if table in self._locked or len(self._locked) >= BATCH_MAX_LOCKS:
            self.flush()
        try:
            self._held.enter_context(self.locks.hold(table, wait=False))
        except TableHeldError:
            self.flush()  # the holder may be waiting for a table of this batch
            self._held.enter_context(self.locks.hold(table))
        self._locked.add(table)

    def record_state(self, *args: Any, **kwargs: Any) -> None:
        """``SyncState.record``, once this batch's records are committed."""
        self._states.append((args, kwargs))

    def flush_when_due(self) -> None:
        if (
            len(self._locked) >= BATCH_MAX_LOCKS
            or len(self.records) >= BATCH_MAX_RECORDS
            or (self._locked and time.monotonic() - self._opened >= BATCH_MAX_SECONDS)
        ):
            self.flush()

    def flush(self) -> None:
        records, states = self.records[:], self._states
        self.records.clear()  # the recorders append to this very list
        self._states = []
        try:
            # The state moves only after the records: a run killed in between downloads again, and finds the
            # rows and their record there.
            self.meta.append("ingestions", records)
            for args, kwargs in states:
                self.state.record(*args, **kwargs)
        finally:
            self._held.close()
            self._held = ExitStack()
            self._locked.clear()
            self._opened = time.monotonic()


class _Recorder:
    """Writes a resource's ``meta.ingestions`` rows into its run's batch, carrying what is known so far."""

    def __init__(self, sink: list[IngestionRecord], batch_id: str, resource: Resource, started: datetime) -> None:
        self.sink = sink
        self.batch_id = batch_id
        self.resource = resource
        self.started = started
        self.downloaded: Download | None = None
        self.download_seconds: float | None = None
        self.extracted_at: datetime | None = None
        self.raw: RawFile | None = None
        self.format: DetectedFormat | None = None

    def write(
        self,
        *,
        status: str,
        error: str | None = None,
        part: str | None = None,
        table: str | None = None,
        rows: int = 0,
        raw_bytes: int | None = None,
        load_seconds: float | None = None,
        encoding: str | None = None,
    ) -> None:
        self.sink.append(self._record(status, error, part, table, rows, raw_bytes, load_seconds, encoding))

    def write_recovered(self, committed: CommittedFile, *, part: str | None, table: str, encoding: str | None) -> None:
        """The "loaded" record a killed run could not write, from what its rows say: its batch, its raw file,
        its row count and when it committed (the moment is all that is known of its timing)."""
        record = replace(
            self._record("loaded", None, part, table, committed.rows, None, None, encoding),
            batch_id=committed.batch_id,
            raw_path=committed.raw_path,
            extracted_at=committed.extracted_at,
            started_at=committed.ingested_at,
            finished_at=committed.ingested_at,
            download_seconds=None,
        )
        self.sink.append(record)

    def _record(
        self,
        status: str,
        error: str | None,
        part: str | None,
        table: str | None,
        rows: int,
        raw_bytes: int | None,
        load_seconds: float | None,
        encoding: str | None,
    ) -> IngestionRecord:
        resource = self.resource
        return IngestionRecord(
            batch_id=self.batch_id,
            source=resource.source,
            dataset_id=resource.dataset_id,
            dataset_slug=resource.dataset_slug,
            resource_id=resource.resource_id,
            resource_title=resource.title,
            part=part,
            table_name=table,
            raw_path=self.raw.uri if self.raw else None,
            raw_sha256=self.raw.sha256 if self.raw else (self.downloaded.sha256 if self.downloaded else None),
            raw_bytes=raw_bytes if raw_bytes is not None else (self.raw.size if self.raw else None),
            format=self.format.format if self.format else None,
            encoding=encoding or (self.format.encoding if self.format else None),
            rows=rows,
            status=status,
            error=error,
            extracted_at=self.extracted_at,
            started_at=self.started,
            finished_at=datetime.now(UTC),
            download_seconds=self.download_seconds,
            load_seconds=load_seconds,
        )


def _table_name(source: str, names: tuple[str, str], part: str | None) -> str:
    name = f"{source}__{names[0]}__{names[1]}"
    if part:
        name += "__" + normalise_identifier(part, what="archive member or sheet", max_length=40).lstrip("_")
    return bound_length(name, MAX_TABLE_NAME)


def _verify_checksum(resource: Resource, download: Download) -> bool | None:
    """True or False when the catalogue gives a checksum civiclake can compute; None otherwise."""
    if resource.checksum is None:
        return None
    if resource.checksum.algorithm == "sha256":
        return download.sha256 == resource.checksum.value.lower()
    actual = download.digests.get(resource.checksum.algorithm)
    return None if actual is None else actual == resource.checksum.value.lower()


def _computed_digest(resource: Resource, download: Download) -> str | None:
    """The digest of the downloaded bytes in the catalogue's algorithm (sha256 is kept apart from the others)."""
    algorithm = resource.checksum.algorithm if resource.checksum else "sha256"
    return download.sha256 if algorithm == "sha256" else download.digests.get(algorithm)


def _dataset_record(batch_id: str, found: DiscoveredDataset) -> DatasetRecord:
    info = found.dataset
    return DatasetRecord(
        batch_id=batch_id,
        synced_at=datetime.now(UTC),
        source=info.source,
        dataset_id=info.dataset_id,
        slug=info.slug,
        title=info.title,
        organization=info.organization,
        frequency=info.frequency,
        last_modified=info.last_modified,
        page_url=info.page_url,
        resources_selected=len(found.resources),
        resources_skipped=len(found.skipped),
    )


def _failure_message(failure: DiscoveryFailure) -> str:
    # Source errors name the URL, where the reference may not show (a slug redirected, a search): name it first.
    prefix = "" if failure.error.startswith(failure.reference) else f"{failure.reference}: "
    return prefix + failure.error


def _nothing_to_load(found: DiscoveredDataset) -> str:
    """Why a dataset loads nothing: each skip reason with how many resources it skipped, most frequent first."""
    if not found.skipped:
        return "the dataset has no resources"
    counts = Counter(skipped.reason for skipped in found.skipped)
    return "every resource skipped: " + ", ".join(f"{reason} ({count})" for reason, count in counts.most_common())


def _dataset_outcome(batch_id: str, source: str, dataset_id: str, status: str, reason: str) -> IngestionRecord:
    now = datetime.now(UTC)
    return IngestionRecord(
        batch_id=batch_id,
        source=source,
        dataset_id=dataset_id,
        dataset_slug=dataset_id,
        resource_id=DATASET_LEVEL,
        resource_title="",
        part=None,
        table_name=None,
        raw_path=None,
        raw_sha256=None,
        raw_bytes=None,
        format=None,
        encoding=None,
        rows=0,
        status=status,
        error=reason,
        extracted_at=None,
        started_at=now,
        finished_at=now,
        download_seconds=None,
        load_seconds=None,
    )


def _describe(error: BaseException) -> str:
    if isinstance(error, CivicLakeError):
        return str(error)
    return f"{type(error).__name__}: {error}"
