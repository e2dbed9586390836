"""Prometheus metrics of the pipeline: what a sync run did, how fresh each dataset is, what the lake holds.

Library code never touches prometheus_client's global registry: ``PipelineMetrics`` takes the registry to
fill, so a test asserts on a fresh ``CollectorRegistry`` and a batch pod pushes exactly what its run did.

Two ways out, one per profile:

- cluster: each batch pod pushes its registry to the Pushgateway, one group per dataset
  (``push_per_dataset``), so pods syncing different datasets never overwrite each other and
  ``push_time_seconds`` says when each dataset was last reported;
- local: ``civiclake metrics`` serves the lake's state over HTTP (``serve_metrics``), read again at each scrape.

Pushed counters hold what the *last run* did (a push replaces its group): boards read them as "last run",
and repeated failures are counted from ``meta.ingestions`` (``civiclake_resource_consecutive_failures``), not
from a counter that resets at every push.

Label values: ``dataset`` and ``resource`` are the lake's names (the same as in table names and raw paths, see
``SyncState.assign_names``), so a board row, a table and a raw folder carry the same word.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import push_to_gateway, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from civiclake.errors import (
    ArchiveError,
    ChecksumMismatchError,
    FormatError,
    HttpStatusError,
    IdentifierError,
    SchemaConflictError,
    SourceError,
    TooLargeError,
    TransientError,
)
from civiclake.observability.freshness import expected_period, grace
from civiclake.warehouse.state import name_part

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

    from civiclake.catalog_views import DatasetStatus, TableInfo
    from civiclake.pipeline import ProgressHooks, ResourceOutcome, SyncReport
    from civiclake.sources.base import Resource
    from civiclake.warehouse.state import ResourceState, SyncState


# Download+load of one resource: from under a second (unchanged CSV) to an hour (a multi-GB archive).
DURATION_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 3600, float("inf"))

FAILURE_REASONS = ("http", "checksum", "format", "archive", "too_large", "schema", "other")

# When the pipeline only hands over a message (ResourceOutcome.error), these say which reason it is. Checked in
# order; the messages are civiclake's own (errors raised in sources/, formats/, warehouse/).
_REASON_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("too_large", re.compile(r"over the limit of \d+|grew past the limit")),
    ("checksum", re.compile(r"do not match the catalogue's")),
    ("http", re.compile(r"\bHTTP \d{3}\b|still failing after \d+ attempts|malformed JSON|page envelope")),
    ("archive", re.compile(r"\bZIP\b|archive|expands past|compression ratio|encrypted")),
    (
        "schema",
        re.compile(r"no longer converts to|lineage columns|SchemaConflict|schema", re.IGNORECASE),
    ),
    (
        "format",
        re.compile(
            r"not a tabular file|empty file|binary content|not valid|invalid JSON|header row|not a readable|"
            r"cannot be read|not an object|no records|distinct keys|FormatError|not supported"
        ),
    ),
)


def failure_reason(error: BaseException | str | None, status: str = "failed") -> str:
    """One of FAILURE_REASONS for an exception or for the message the pipeline recorded."""
    if status == "refused":
        return "too_large"
    if isinstance(error, BaseException):
        for kind, reason in (
            (TooLargeError, "too_large"),
            (ChecksumMismatchError, "checksum"),
            ((HttpStatusError, SourceError, TransientError), "http"),
            (ArchiveError, "archive"),  # before FormatError: an ArchiveError is a FormatError
            (SchemaConflictError, "schema"),
            (FormatError, "format"),
        ):
            if isinstance(error, kind):
                return reason
        error = str(error)
    for reason, pattern in _REASON_PATTERNS:
        if error and pattern.search(error):
            return reason
    return "other"


def lake_name(label: str, what: str = "name") -> str:
    """The name SyncState gives a dataset or resource labelled ``label`` at first sight."""
    try:
        return name_part(label, what)
    except IdentifierError:
        return "x"  # a label with no letter or digit: the state refused it too, so no table carries it


def dataset_names(resources: Iterable[ResourceState]) -> dict[tuple[str, str], str]:
    """(source, dataset_id) -> the lake's name of the dataset, as fixed in the sync state (``state.all()``)."""
    return {(resource.source, resource.dataset_id): resource.dataset_name for resource in resources}


def consecutive_failures(ingestions: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str, str], int]:
    """(source, dataset_id, resource_id) -> how many of its latest runs in a row failed (0: the last one did not).

    ``ingestions`` are rows of ``meta.ingestions``; a run (batch) of a resource failed when any of its rows
    (one per archive member or sheet) failed or was refused.
    """
    runs: dict[tuple[str, str, str], dict[str, tuple[datetime, bool]]] = defaultdict(dict)
    for row in ingestions:
        key = (row["source"], row["dataset_id"], row["resource_id"])
        failed = row["status"] in ("failed", "refused")
        started, failed_before = runs[key].get(row["batch_id"], (row["started_at"], False))
        runs[key][row["batch_id"]] = (min(started, row["started_at"]), failed or failed_before)
    streaks = {}
    for key, batches in runs.items():
        streak = 0
        for _, failed in sorted(batches.values(), key=lambda item: item[0], reverse=True):
            if not failed:
                break
            streak += 1
        streaks[key] = streak
    return streaks


class PipelineMetrics:
    """The pipeline's metrics, registered in ``registry`` (never the global one)."""

    def __init__(self, registry: CollectorRegistry, clock: Callable[[], float] = time.time) -> None:
        self.registry = registry
        self.clock = clock
        resource_labels = ("source", "dataset", "resource")
        self.rows = Counter("civiclake_ingest_rows", "Rows added to bronze tables.", resource_labels, registry=registry)
        self.bytes = Counter(
            "civiclake_ingest_bytes", "Bytes downloaded from the source.", resource_labels, registry=registry
        )
        self.resources = Counter(
            "civiclake_ingest_resources",
            "Resources handled, by outcome (loaded, unchanged, failed, refused).",
            ("source", "dataset", "status"),
            registry=registry,
        )
        self.duration = Histogram(
            "civiclake_ingest_duration_seconds",
            "Time to download and load one resource.",
            ("source", "dataset"),
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.failures = Counter(
            "civiclake_ingest_failures",
            "Resources that failed or were refused, by reason.",
            ("source", "dataset", "resource", "reason"),
            registry=registry,
        )
        self.discovery_failures = Counter(
            "civiclake_discovery_failures",
            "Datasets the source could not describe (deleted, unreachable).",
            ("source",),
            registry=registry,
        )
        self.run_timestamp = Gauge(
            "civiclake_pipeline_last_run_timestamp_seconds",
            "When the last sync run finished.",
            ("source",),
            registry=registry,
        )
        self.run_success_timestamp = Gauge(
            "civiclake_pipeline_last_success_timestamp_seconds",
            "When the last successful sync run finished (no failed resource, or at least one loaded).",
            ("source",),
            registry=registry,
        )
        self.run_duration = Gauge(
            "civiclake_pipeline_run_duration_seconds",
            "How long the last sync run took.",
            ("source",),
            registry=registry,
        )
        dataset_labels = ("source", "dataset")
        self.last_success = Gauge(
            "civiclake_dataset_last_success_timestamp_seconds",
            "When a resource of the dataset was last loaded or found unchanged (0: never).",
            dataset_labels,
            registry=registry,
        )
        self.freshness = Gauge(
            "civiclake_dataset_freshness_seconds",
            "Age of the dataset's last success when measured (boards use time() - last success: it keeps ageing).",
            dataset_labels,
            registry=registry,
        )
        self.late_after = Gauge(
            "civiclake_dataset_late_after_seconds",
            "Declared update period plus grace: older than this, the dataset is late (absent: no declared period).",
            dataset_labels,
            registry=registry,
        )
        self.late = Gauge(
            "civiclake_dataset_late",
            "1 when the dataset was late when measured, 0 when on time (absent: no declared period).",
            dataset_labels,
            registry=registry,
        )
        self.dataset_rows = Gauge(
            "civiclake_dataset_rows", "Rows of the dataset's bronze tables.", dataset_labels, registry=registry
        )
        self.dataset_errors = Gauge(
            "civiclake_dataset_failing_resources",
            "Resources of the dataset whose last attempt failed or was refused.",
            dataset_labels,
            registry=registry,
        )
        self.streak = Gauge(
            "civiclake_resource_consecutive_failures",
            "How many of the resource's latest runs in a row failed (0: the last one succeeded).",
            resource_labels,
            registry=registry,
        )
        table_labels = ("namespace", "table", "source", "dataset")
        self.table_rows = Gauge(
            "civiclake_table_rows", "Rows in the current snapshot.", table_labels, registry=registry
        )
        self.table_files = Gauge(
            "civiclake_table_data_files", "Data files in the current snapshot.", table_labels, registry=registry
        )
        self.table_size = Gauge(
            "civiclake_table_size_bytes", "Size of the current snapshot's files.", table_labels, registry=registry
        )
        self.table_snapshots = Gauge(
            "civiclake_table_snapshots", "Snapshots the table keeps.", table_labels, registry=registry
        )
        self.table_commit = Gauge(
            "civiclake_table_last_commit_timestamp_seconds",
            "When the current snapshot was committed.",
            table_labels,
            registry=registry,
        )
        self.dbt_model_duration = Gauge(
            "civiclake_dbt_model_duration_seconds",
            "How long each dbt model took in the last run.",
            ("model", "status"),
            registry=registry,
        )
        self.dbt_tests_failed = Gauge(
            "civiclake_dbt_tests_failed",
            "dbt tests that failed or errored in the last run, per tested model.",
            ("model",),
            registry=registry,
        )
        self.dbt_nodes = Gauge(
            "civiclake_dbt_nodes",
            "dbt nodes of the last run, by type (model, test, seed, snapshot) and status.",
            ("resource_type", "status"),
            registry=registry,
        )
        self.dbt_run_timestamp = Gauge(
            "civiclake_dbt_last_run_timestamp_seconds",
            "When the last dbt run wrote its results.",
            ("command",),
            registry=registry,
        )
        self.dbt_run_duration = Gauge(
            "civiclake_dbt_run_duration_seconds", "How long the last dbt run took.", ("command",), registry=registry
        )
        self._names: dict[tuple[str, str], str] = {}

    # --- a sync run ---

    def observe_report(self, report: SyncReport, *, duration_seconds: float | None = None) -> None:
        """Record a finished sync run, one ``ResourceOutcome`` at a time."""
        finished = self.clock()
        sources = {outcome.source for outcome in report.outcomes} | {f.source for f in report.discovery_failures}
        for outcome in report.outcomes:
            dataset = self._dataset_label(outcome)
            resource = lake_name(outcome.resource, "resource")
            self.resources.labels(outcome.source, dataset, outcome.status).inc()
            self.rows.labels(outcome.source, dataset, resource).inc(outcome.rows)
            self.bytes.labels(outcome.source, dataset, resource).inc(outcome.bytes)
            if outcome.status in ("failed", "refused"):
                reason = failure_reason(getattr(outcome, "exception", None) or outcome.error, outcome.status)
                self.failures.labels(outcome.source, dataset, resource, reason).inc()
            else:
                self.last_success.labels(outcome.source, dataset).set(finished)
                self.freshness.labels(outcome.source, dataset).set(0)
        for failure in report.discovery_failures:
            self.discovery_failures.labels(failure.source).inc()
        for source in sources:
            outcomes = [o for o in report.outcomes if o.source == source]
            failed = [o for o in outcomes if o.status in ("failed", "refused")]
            self.run_timestamp.labels(source).set(finished)
            if duration_seconds is not None:
                self.run_duration.labels(source).set(duration_seconds)
            if not failed or len(failed) < len(outcomes):
                self.run_success_timestamp.labels(source).set(finished)

    def progress_hooks(self, inner: ProgressHooks | None = None) -> ProgressHooks:
        """Pipeline progress hooks that time each downloaded resource into ``civiclake_ingest_duration_seconds``.

        ``inner`` (the command line's progress bar) still gets every call.
        """
        from civiclake.pipeline import ProgressHooks as Hooks

        metrics = self

        class _Timing(Hooks):
            def __init__(self) -> None:
                self.started: dict[str, float] = {}

            def resource_started(self, resource: Resource) -> Callable[[int], None] | None:
                self.started[resource.resource_id] = time.monotonic()
                return inner.resource_started(resource) if inner else None

            def resource_finished(self, outcome: ResourceOutcome) -> None:
                started = self.started.pop(outcome.resource_id, None)
                if started is not None:
                    elapsed = time.monotonic() - started
                    metrics.duration.labels(outcome.source, metrics._dataset_label(outcome)).observe(elapsed)
                if inner:
                    inner.resource_finished(outcome)

        return _Timing()

    def _dataset_label(self, outcome: ResourceOutcome) -> str:
        key = (outcome.source, outcome.dataset_id)
        if key not in self._names:
            self._names[key] = lake_name(outcome.dataset, "dataset")
        return self._names[key]

    # --- the lake's state ---

    def observe_statuses(
        self,
        statuses: Iterable[DatasetStatus],
        *,
        names: Mapping[tuple[str, str], str] | None = None,
        now: datetime | None = None,
    ) -> None:
        """Freshness per dataset from ``dataset_statuses(...)``; ``names`` from ``dataset_names(state.all())``."""
        now = now or datetime.fromtimestamp(self.clock(), UTC)
        for status in statuses:
            dataset = self.name_of(status.source, status.dataset_id, names)
            labels = (status.source, dataset)
            last = datetime.fromisoformat(status.last_success_at) if status.last_success_at else None
            self.last_success.labels(*labels).set(last.timestamp() if last else 0)
            if last:
                self.freshness.labels(*labels).set(max((now - last).total_seconds(), 0))
            period = expected_period(status.frequency)
            if period is not None and status.resources:
                self.late_after.labels(*labels).set((period + grace(period)).total_seconds())
                self.late.labels(*labels).set(1 if status.late else 0)
            self.dataset_rows.labels(*labels).set(status.rows)
            self.dataset_errors.labels(*labels).set(len(status.errors))

    def observe_tables(
        self, tables: Iterable[TableInfo], *, names: Mapping[tuple[str, str], str] | None = None
    ) -> None:
        """Iceberg table stats from ``list_tables(catalog)``."""
        for table in tables:
            namespace, _, name = table.name.partition(".")
            source = table.source or ""
            dataset = self.name_of(source, table.dataset_id, names) if table.dataset_id else ""
            labels = (namespace, name, source, dataset)
            self.table_rows.labels(*labels).set(table.rows)
            self.table_files.labels(*labels).set(table.data_files)
            self.table_size.labels(*labels).set(table.size_bytes)
            self.table_snapshots.labels(*labels).set(table.snapshots)
            if table.last_commit_timestamp is not None:
                self.table_commit.labels(*labels).set(table.last_commit_timestamp)

    def observe_failure_streaks(
        self,
        streaks: Mapping[tuple[str, str, str], int],
        *,
        names: Mapping[tuple[str, str], str] | None = None,
        resource_names: Mapping[tuple[str, str], str] | None = None,
    ) -> None:
        for (source, dataset_id, resource_id), streak in streaks.items():
            resource = (resource_names or {}).get((source, resource_id), resource_id)
            self.streak.labels(source, self.name_of(source, dataset_id, names), resource).set(streak)

    def observe_lake(
        self, catalog: Catalog, state: SyncState, *, datasets: Collection[tuple[str, str]] | None = None
    ) -> None:
        """Freshness, failure streaks and table stats, read from the catalog and the sync state.

        ``datasets`` limits them to these (source, dataset_id) pairs: a batch pod reports only what it synced
        (``datasets_of(report)``), so its push does not overwrite other pods' groups.
        """
        from civiclake.catalog_views import dataset_statuses, list_tables
        from civiclake.warehouse.meta import MetaTables

        def wanted(source: str | None, dataset_id: str | None) -> bool:
            return datasets is None or (source or "", dataset_id or "") in datasets

        # One read of the state and one walk of the tables serve statuses, streaks and table stats alike.
        resource_states = state.all()
        tables = list_tables(catalog)
        names = dataset_names(resource_states)
        resource_names = {(r.source, r.resource_id): r.resource_name for r in resource_states}
        statuses = dataset_statuses(catalog, state, tables=tables, resource_states=resource_states)
        self.observe_statuses([s for s in statuses if wanted(s.source, s.dataset_id)], names=names)
        ingestions = MetaTables(catalog).read("ingestions").to_pylist()
        streaks = consecutive_failures(row for row in ingestions if wanted(row["source"], row["dataset_id"]))
        self.observe_failure_streaks(streaks, names=names, resource_names=resource_names)
        self.observe_tables([t for t in tables if wanted(t.source, t.dataset_id)], names=names)

    def name_of(self, source: str, dataset_id: str | None, names: Mapping[tuple[str, str], str] | None) -> str:
        key = (source, dataset_id or "")
        return (names or {}).get(key) or self._names.get(key) or (dataset_id or "")

    # --- dbt ---

    def observe_dbt_run(self, run_results: Path, manifest: Path | None = None) -> None:
        """Model durations, test failures and node counts from dbt's ``target/run_results.json``.

        A test's model comes from ``manifest.json`` (``attached_node``, else its first model dependency); it is
        read from next to the run results when not given. Without one, tests count under ``model="unknown"``.
        """
        results = json.loads(run_results.read_text())
        manifest = manifest or run_results.with_name("manifest.json")
        nodes = json.loads(manifest.read_text()).get("nodes", {}) if manifest.exists() else {}
        command = str(results.get("args", {}).get("which") or "build")
        generated_at = results.get("metadata", {}).get("generated_at")
        if generated_at:
            stamp = datetime.fromisoformat(generated_at.replace("Z", "+00:00"))
            self.dbt_run_timestamp.labels(command).set(stamp.timestamp())
        if results.get("elapsed_time") is not None:
            self.dbt_run_duration.labels(command).set(float(results["elapsed_time"]))
        counts: dict[tuple[str, str], int] = defaultdict(int)
        failed_tests: dict[str, int] = defaultdict(int)
        for result in results.get("results", []):
            unique_id = result["unique_id"]
            resource_type = unique_id.split(".", 1)[0]
            status = str(result.get("status"))
            counts[(resource_type, status)] += 1
            if resource_type == "model":
                model = unique_id.rsplit(".", 1)[-1]
                self.dbt_model_duration.labels(model, status).set(float(result.get("execution_time") or 0))
            elif resource_type == "test":
                model = _tested_model(nodes.get(unique_id, {}))
                failed_tests[model] += 1 if status in ("fail", "error") else 0
        for (resource_type, status), count in counts.items():
            self.dbt_nodes.labels(resource_type, status).set(count)
        for model, count in failed_tests.items():
            self.dbt_tests_failed.labels(model).set(count)


def _tested_model(node: Mapping[str, Any]) -> str:
    attached = node.get("attached_node") or next(
        (dep for dep in node.get("depends_on", {}).get("nodes", []) if dep.startswith("model.")), None
    )
    return attached.rsplit(".", 1)[-1] if attached else "unknown"


def datasets_of(report: SyncReport) -> set[tuple[str, str]]:
    """The (source, dataset_id) pairs a run touched, for ``observe_lake(..., datasets=...)``: those of its
    resources, and the datasets that failed or had nothing to load as a whole."""
    touched = {(outcome.source, outcome.dataset_id) for outcome in report.outcomes}
    touched |= {(failure.source, failure.reference) for failure in report.discovery_failures}
    return touched | set(report.idle_datasets)


# --- out of the process ---


def push_metrics(
    registry: CollectorRegistry, pushgateway_url: str, job: str, grouping_key: Mapping[str, str], timeout: float = 10
) -> None:
    """Replace the group ``grouping_key`` of ``job`` on the Pushgateway with ``registry``'s metrics."""
    push_to_gateway(pushgateway_url, job=job, registry=registry, grouping_key=dict(grouping_key), timeout=timeout)


class _Samples(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return iter(self.metrics)


def split_by_dataset(registry: CollectorRegistry) -> dict[tuple[str, str], CollectorRegistry]:
    """One registry per (source, dataset); samples without a dataset go into every group of their source.

    A group that has only run-level samples (a run whose datasets all failed discovery) is keyed by
    (source, "").
    """
    families = list(registry.collect())
    groups: set[tuple[str, str]] = set()
    for family in families:
        for sample in family.samples:
            if sample.labels.get("dataset"):
                groups.add((sample.labels.get("source", ""), sample.labels["dataset"]))
    for family in families:
        for sample in family.samples:
            source = sample.labels.get("source")
            if source and not any(group[0] == source for group in groups):
                groups.add((source, ""))
    split = {}
    for source, dataset in sorted(groups):
        kept = []
        for family in families:
            copy = Metric(family.name, family.documentation, family.type, family.unit)
            for sample in family.samples:
                labels = sample.labels
                if labels.get("source", source) != source:
                    continue
                if labels.get("dataset", dataset) != dataset:
                    continue
                # The grouping key adds source and dataset back: a pushed label must not repeat them.
                copy.samples.append(
                    sample._replace(labels={k: v for k, v in labels.items() if k not in ("source", "dataset")})
                )
            if copy.samples:
                kept.append(copy)
        group_registry = CollectorRegistry(auto_describe=False)
        group_registry.register(_Samples(kept))
        split[(source, dataset)] = group_registry
    return split


def push_per_dataset(registry: CollectorRegistry, pushgateway_url: str, job: str, timeout: float = 10) -> list[dict]:
    """Push ``registry`` as one Pushgateway group per dataset (grouping key ``source``, ``dataset``).

    Returns the grouping keys pushed.
    """
    pushed = []
    for (source, dataset), group in split_by_dataset(registry).items():
        key = {"source": source, "dataset": dataset} if dataset else {"source": source}
        push_metrics(group, pushgateway_url, job, key, timeout=timeout)
        pushed.append(key)
    return pushed


class LakeCollector(Collector):
    """Reads freshness, failure streaks and table stats from the lake at every scrape (``civiclake metrics``)."""

    def __init__(self, open_lake: Callable[[], tuple[Catalog, SyncState]]) -> None:
        self.open_lake = open_lake

    def collect(self) -> Iterator[Metric]:
        catalog, state = self.open_lake()
        try:
            scratch = CollectorRegistry(auto_describe=False)
            PipelineMetrics(scratch).observe_lake(catalog, state)
            yield from scratch.collect()
        finally:
            state.close()


def serve_metrics(registry: CollectorRegistry, port: int, addr: str = "127.0.0.1") -> Any:
    """Serve ``registry`` on http://addr:port/metrics from a daemon thread; returns (server, thread)."""
    return start_http_server(port, addr=addr, registry=registry)
