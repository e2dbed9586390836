"""PipelineMetrics on a fresh registry: what a run, the lake and dbt turn into, and how it leaves the process."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import httpx
import pytest
from prometheus_client import CollectorRegistry

from civiclake.catalog_views import DatasetStatus
from civiclake.errors import (
    ArchiveError,
    ChecksumMismatchError,
    FormatError,
    SchemaConflictError,
    TooLargeError,
    TransientHttpError,
)
from civiclake.observability.metrics import (
    PipelineMetrics,
    consecutive_failures,
    failure_reason,
    serve_metrics,
    split_by_dataset,
)
from civiclake.pipeline import ResourceOutcome, SyncReport, _describe
from civiclake.sources.base import DiscoveryFailure
from tests.observability.conftest import DbtBuild
from tests.servers import free_tcp_port

NOW = 1_800_000_000.0


def outcome(status: str, dataset: str = "Liste des gares", error: str | None = None, **kw: int) -> ResourceOutcome:
    return ResourceOutcome("datagouv", dataset, f"id-{dataset}", "Gares.csv", f"r-{status}", status, error=error, **kw)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (TransientHttpError("https://x/f.csv", 503), "http"),
        (
            ChecksumMismatchError("downloaded bytes do not match the catalogue's sha256 abc (got def); kept in q"),
            "checksum",
        ),
        (FormatError("not a tabular file: detected html"), "format"),
        (FormatError("binary content, not text: NUL byte at byte 3"), "format"),
        (ArchiveError("ZIP member 'a/../../x' points outside the archive"), "archive"),
        (TooLargeError("https://x is 10 bytes, over the limit of 5"), "too_large"),
        (SchemaConflictError("the file has columns named like lineage columns: ['_source']"), "schema"),
        (FormatError("column 'x' no longer converts to int64: boom"), "schema"),
        (KeyError("boom"), "other"),
    ],
)
def test_failure_reason_from_the_error_and_from_the_recorded_message(error: Exception, reason: str) -> None:
    message = f"ds/res (id): {_describe(error)}"  # what ResourceOutcome.error holds
    assert failure_reason(message) == reason
    if reason != "schema" or isinstance(error, SchemaConflictError):
        assert failure_reason(error) == reason


def test_refused_is_too_large() -> None:
    assert failure_reason(None, "refused") == "too_large"


def test_observe_report_counts_rows_bytes_failures_and_the_run() -> None:
    registry = CollectorRegistry()
    metrics = PipelineMetrics(registry, clock=lambda: NOW)
    report = SyncReport(
        "b1",
        [
            outcome("loaded", rows=10, bytes=100),
            outcome("unchanged"),
            outcome("failed", error="ds/Gares.csv (r): https://x: HTTP 500, still failing after 3 attempts"),
            outcome("refused", dataset="IRVE", error="ds/x (r): over the limit of 5"),
        ],
        [DiscoveryFailure("datagouv", "gone-dataset", "HTTP 410")],
    )
    metrics.observe_report(report, duration_seconds=12.5)
    value = registry.get_sample_value
    labels = {"source": "datagouv", "dataset": "liste_des_gares", "resource": "gares_csv"}
    assert value("civiclake_ingest_rows_total", labels) == 10
    assert value("civiclake_ingest_bytes_total", labels) == 100
    assert value("civiclake_ingest_failures_total", {**labels, "reason": "http"}) == 1
    assert value("civiclake_ingest_failures_total", {**labels, "dataset": "irve", "reason": "too_large"}) == 1
    assert value("civiclake_ingest_resources_total", {"source": "datagouv", "dataset": "liste_des_gares",
                                                      "status": "unchanged"}) == 1  # fmt: skip
    assert (
        value("civiclake_dataset_last_success_timestamp_seconds", {"source": "datagouv", "dataset": "liste_des_gares"})
        == NOW
    )
    assert value("civiclake_dataset_last_success_timestamp_seconds", {"source": "datagouv", "dataset": "irve"}) is None
    assert value("civiclake_pipeline_last_run_timestamp_seconds", {"source": "datagouv"}) == NOW
    assert value("civiclake_pipeline_last_success_timestamp_seconds", {"source": "datagouv"}) == NOW
    assert value("civiclake_pipeline_run_duration_seconds", {"source": "datagouv"}) == 12.5
    assert value("civiclake_discovery_failures_total", {"source": "datagouv"}) == 1


def test_a_run_where_everything_failed_is_not_a_success() -> None:
    registry = CollectorRegistry()
    PipelineMetrics(registry, clock=lambda: NOW).observe_report(SyncReport("b", [outcome("failed", error="HTTP 500")]))
    assert registry.get_sample_value("civiclake_pipeline_last_run_timestamp_seconds", {"source": "datagouv"}) == NOW
    assert (
        registry.get_sample_value("civiclake_pipeline_last_success_timestamp_seconds", {"source": "datagouv"}) is None
    )


def test_progress_hooks_time_downloaded_resources_and_call_the_inner_hooks() -> None:
    from civiclake.pipeline import ProgressHooks

    class Inner(ProgressHooks):
        finished: ClassVar[list[str]] = []

        def resource_finished(self, outcome: ResourceOutcome) -> None:
            self.finished.append(outcome.status)

    registry = CollectorRegistry()
    hooks = PipelineMetrics(registry).progress_hooks(Inner())
    resource = type("R", (), {"resource_id": "r-loaded"})()
    hooks.resource_started(resource)  # type: ignore[arg-type]
    hooks.resource_finished(outcome("loaded"))
    hooks.resource_finished(outcome("unchanged"))  # never started: not downloaded, not timed
    labels = {"source": "datagouv", "dataset": "liste_des_gares"}
    assert registry.get_sample_value("civiclake_ingest_duration_seconds_count", labels) == 1
    assert Inner.finished == ["loaded", "unchanged"]


def test_statuses_give_freshness_and_lateness() -> None:
    now = datetime.fromtimestamp(NOW, UTC)
    statuses = [
        DatasetStatus("datagouv", "ds1", "Gares", "daily", None, (now - timedelta(days=2)).isoformat(), 5, 1, True, []),
        DatasetStatus(
            "datagouv", "ds2", "BAAC", "annual", None, (now - timedelta(days=2)).isoformat(), 7, 2, False, ["x"]
        ),
        DatasetStatus("datagouv", "ds3", "Codes", "monthly", None, None, 0, 1, True, ["HTTP 500"]),
        DatasetStatus("datagouv", "ds4", "Doc", "punctual", None, None, 0, 1, None, []),
    ]
    registry = CollectorRegistry()
    names = {("datagouv", "ds1"): "gares", ("datagouv", "ds2"): "baac", ("datagouv", "ds3"): "codes"}
    PipelineMetrics(registry, clock=lambda: NOW).observe_statuses(statuses, names=names)
    value = registry.get_sample_value
    gares = {"source": "datagouv", "dataset": "gares"}
    assert value("civiclake_dataset_freshness_seconds", gares) == 2 * 86400
    assert value("civiclake_dataset_late_after_seconds", gares) == 86400 + 6 * 3600
    assert value("civiclake_dataset_late", gares) == 1
    assert value("civiclake_dataset_late", {"source": "datagouv", "dataset": "baac"}) == 0
    codes = {"source": "datagouv", "dataset": "codes"}
    assert value("civiclake_dataset_last_success_timestamp_seconds", codes) == 0
    assert value("civiclake_dataset_failing_resources", codes) == 1
    assert value("civiclake_dataset_late", {"source": "datagouv", "dataset": "ds4"}) is None  # no period


def test_consecutive_failures_count_the_latest_failed_runs() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def row(batch: int, resource: str, status: str) -> dict:
        return {"source": "s", "dataset_id": "d", "resource_id": resource, "batch_id": f"b{batch}",
                "status": status, "started_at": start + timedelta(days=batch)}  # fmt: skip

    rows = [row(1, "a", "loaded"), row(2, "a", "failed"), row(3, "a", "failed"), row(3, "a", "loaded")]
    rows += [row(4, "a", "refused"), row(1, "b", "failed"), row(2, "b", "loaded")]
    assert consecutive_failures(rows) == {("s", "d", "a"): 3, ("s", "d", "b"): 0}


@pytest.mark.integration
def test_a_real_dbt_build_gives_model_durations_and_failed_tests_per_model(failing_dbt_build: DbtBuild) -> None:
    results = failing_dbt_build.results()
    assert failing_dbt_build.exit_code == 1, "dbt build with failing tests: some nodes failed"
    assert results["metadata"]["dbt_version"].startswith("1.11.")
    statuses = {r["unique_id"].rsplit(".", 1)[-1]: r["status"] for r in results["results"]}
    assert statuses["assert_no_station_is_listed"] == "fail"
    assert statuses["assert_stations_have_no_such_column"] == "error"
    assert statuses["assert_no_commune_is_listed"] == "warn"

    registry = CollectorRegistry()
    PipelineMetrics(registry).observe_dbt_run(failing_dbt_build.run_results)
    value = registry.get_sample_value
    for result in results["results"]:
        if result["unique_id"].startswith("model."):
            labels = {"model": result["unique_id"].rsplit(".", 1)[-1], "status": result["status"]}
            assert value("civiclake_dbt_model_duration_seconds", labels) == result["execution_time"]
    assert value("civiclake_dbt_tests_failed", {"model": "dim_station"}) == 2  # the failure and the error
    assert value("civiclake_dbt_tests_failed", {"model": "dim_commune"}) == 0  # a warning is not a failure
    failed = Counter(r["status"] for r in results["results"] if r["unique_id"].startswith("test."))
    assert value("civiclake_dbt_nodes", {"resource_type": "test", "status": "fail"}) == failed["fail"]
    assert value("civiclake_dbt_nodes", {"resource_type": "test", "status": "pass"}) == failed["pass"] > 0
    assert value("civiclake_dbt_run_duration_seconds", {"command": "build"}) == results["elapsed_time"]
    stamp = datetime.fromisoformat(results["metadata"]["generated_at"].replace("Z", "+00:00")).timestamp()
    assert value("civiclake_dbt_last_run_timestamp_seconds", {"command": "build"}) == stamp


@pytest.mark.integration
def test_dbt_without_manifest_counts_tests_as_unknown(failing_dbt_build: DbtBuild, tmp_path) -> None:
    (tmp_path / "run_results.json").write_text(failing_dbt_build.run_results.read_text())
    registry = CollectorRegistry()
    PipelineMetrics(registry).observe_dbt_run(tmp_path / "run_results.json")
    failed = [
        r
        for r in failing_dbt_build.results()["results"]
        if r["unique_id"].startswith("test.") and r["status"] in ("fail", "error")
    ]
    assert registry.get_sample_value("civiclake_dbt_tests_failed", {"model": "unknown"}) == len(failed) >= 2


def test_split_by_dataset_gives_one_group_each_with_run_level_samples_in_every_group() -> None:
    registry = CollectorRegistry()
    metrics = PipelineMetrics(registry, clock=lambda: NOW)
    metrics.observe_report(SyncReport("b", [outcome("loaded", rows=3), outcome("loaded", dataset="IRVE", rows=4)]))
    groups = split_by_dataset(registry)
    assert sorted(groups) == [("datagouv", "irve"), ("datagouv", "liste_des_gares")]
    irve = groups[("datagouv", "irve")]
    assert irve.get_sample_value("civiclake_ingest_rows_total", {"resource": "gares_csv"}) == 4
    assert irve.get_sample_value("civiclake_pipeline_last_run_timestamp_seconds", {}) == NOW
    for group in groups.values():
        for family in group.collect():
            for sample in family.samples:
                assert "dataset" not in sample.labels and "source" not in sample.labels


def test_serve_metrics_answers_over_http() -> None:
    registry = CollectorRegistry()
    PipelineMetrics(registry, clock=lambda: NOW).observe_report(SyncReport("b", [outcome("loaded", rows=3)]))
    port = free_tcp_port()
    server, thread = serve_metrics(registry, port)
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert 'civiclake_ingest_rows_total{dataset="liste_des_gares",resource="gares_csv",source="datagouv"} 3.0' in text


@pytest.mark.integration
def test_lake_collector_reads_freshness_and_tables_from_a_synced_lake(settings, mirror) -> None:
    from civiclake.observability.metrics import LakeCollector
    from civiclake.warehouse.catalog import open_catalog
    from civiclake.warehouse.state import SyncState
    from tests.pipeline.lakehouse import GARES, Lakehouse

    Lakehouse(settings).sync(GARES)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LakeCollector(lambda: (open_catalog(settings), SyncState(settings.catalog_uri))))
    tables = {
        s.labels["table"]: s.value
        for family in registry.collect()
        for s in family.samples
        if s.name == "civiclake_table_rows" and s.labels["namespace"] == "bronze"
    }
    assert tables and all(rows > 0 for rows in tables.values())
    dataset = {"source": "datagouv", "dataset": "liste_des_gares"}
    assert registry.get_sample_value("civiclake_dataset_late", dataset) == 0
    assert registry.get_sample_value("civiclake_table_snapshots", {**dataset, "namespace": "bronze",
                                                                   "table": next(iter(tables))}) >= 1  # fmt: skip
