"""The demo pipeline's metrics in a real Pushgateway scraped by a real Prometheus: every board query returns data.

Syncs the demo registry from the bundled mirror with one resource broken (HTTP 500 every time), as batch pods
would: one fresh registry per run, pushed one group per dataset. The broken dataset runs three times, so its
failure streak reaches the repeated-failures threshold. dbt metrics come from a run_results.json fixture (dbt is not
run here) and Airflow's from StatsD lines put through the statsd-exporter mapping.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from civiclake.config import Settings
from civiclake.demo.mirror.server import Fault, MirrorServer
from civiclake.observability.board_picture import render_board
from civiclake.observability.metrics import PipelineMetrics, datasets_of, push_metrics, push_per_dataset
from civiclake.pipeline import SyncPipeline, SyncReport
from civiclake.registry import DatagouvDataset, load_registry
from civiclake.sources.datagouv import DatagouvConnector, DatagouvSelection
from civiclake.warehouse.catalog import open_catalog
from civiclake.warehouse.state import SyncState
from tests.observability.boards import alerts, fill_variables, panel_queries, variable_queries
from tests.observability.conftest import CHART, DASHBOARD_FILES, DBT_TARGET, RULE_FILES, STATSD_MAPPING
from tests.observability.prometheus_servers import PrometheusServers, running_prometheus
from tests.observability.statsd_mapping import StatsdExporterStandIn
from tests.pipeline.lakehouse import CODES_POSTAUX, CODES_POSTAUX_CSV

pytestmark = pytest.mark.integration

DEMO_REGISTRY = Path(__file__).resolve().parents[2] / "src" / "civiclake" / "demo" / "datasets.yaml"
SYNC_JOB = "civiclake-sync"
AIRFLOW_LINES = [
    "airflow.scheduler_heartbeat:1|c",
    "airflow.dagrun.duration.success.civiclake_datagouv:84213|ms",
    "airflow.dagrun.duration.failed.civiclake_dbt:12034|ms",
    "airflow.ti.finish.civiclake_datagouv.sync_gares.success:1|c",
    "airflow.ti.finish.civiclake_datagouv.sync_codes_postaux.failed:1|c",
    "airflow.dag_processing.import_errors:0|g",
    "airflow.executor.running_tasks:2|g",
    "airflow.executor.queued_tasks:1|g",
    "airflow.pool.open_slots.default_pool:126|g",
    "airflow.dag_processing.total_parse_time:1.2|g",  # dropped by the mapping
]


def sync_and_push(settings: Settings, datasets: list[DatagouvDataset], pushgateway_url: str) -> SyncReport:
    """What a batch pod does: sync, record into its own registry, push one group per dataset."""
    registry = CollectorRegistry()
    metrics = PipelineMetrics(registry)
    connector = DatagouvConnector(settings.datagouv, settings.http, DatagouvSelection(datasets=datasets))
    pipeline = SyncPipeline(settings, progress=metrics.progress_hooks())
    clock = time.monotonic()
    try:
        report = pipeline.sync(connector)
    finally:
        connector.close()
        pipeline.close()
    metrics.observe_report(report, duration_seconds=time.monotonic() - clock)
    state = SyncState(settings.catalog_uri)
    try:
        metrics.observe_lake(open_catalog(settings), state, datasets=datasets_of(report))
    finally:
        state.close()
    push_per_dataset(registry, pushgateway_url, SYNC_JOB)
    return report


def push_airflow(servers: PrometheusServers, repeats: int) -> None:
    registry = CollectorRegistry()
    exporter = StatsdExporterStandIn(STATSD_MAPPING, registry)
    for _ in range(repeats):
        for line in AIRFLOW_LINES:
            exporter.receive(line)
    push_metrics(registry, servers.pushgateway_url, "airflow-statsd", {"instance": "statsd-exporter"})


def wait_for(servers: PrometheusServers, expr: str, what: str, timeout: float = 20) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        result = servers.query(expr)
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: {expr!r} returned nothing after {timeout:.0f} s\n{servers.diagnostics()}")
        time.sleep(0.25)


def test_pushed_run_feeds_every_board_and_the_failure_alerts(
    tmp_path: Path, settings: Settings, mirror: MirrorServer, board_pictures: Path | None
) -> None:
    registry_datasets = load_registry(DEMO_REGISTRY).datagouv.datasets
    broken = [entry for entry in registry_datasets if entry.id == CODES_POSTAUX]
    mirror.inject_fault(CODES_POSTAUX_CSV, Fault.http_status(500), times=None)

    with running_prometheus(tmp_path / "prometheus", RULE_FILES) as servers:
        first = sync_and_push(settings, registry_datasets, servers.pushgateway_url)
        assert [outcome.resource_id for outcome in first.failed] == [CODES_POSTAUX_CSV]
        assert any(outcome.rows for outcome in first.outcomes)
        for _ in range(2):  # the broken dataset's own pod, on the next two schedules
            sync_and_push(settings, broken, servers.pushgateway_url)
        dbt = CollectorRegistry()
        PipelineMetrics(dbt).observe_dbt_run(DBT_TARGET / "run_results.json")
        push_metrics(dbt, servers.pushgateway_url, "civiclake-dbt", {"command": "build"})
        push_airflow(servers, repeats=1)
        groups = len({(o.source, o.dataset) for o in first.outcomes}) + 2
        wait_for(servers, f"count(push_time_seconds) >= {groups}", "every pushed group scraped")
        time.sleep(1.5)  # a second scrape of Airflow's first counts, then more: rate() needs two points
        push_airflow(servers, repeats=3)
        wait_for(servers, "sum(rate(airflow_scheduler_heartbeat_total[1m])) > 0", "Airflow counters increasing")
        wait_for(servers, "source_dataset:civiclake_dataset_late:bool", "recording rules evaluated")

        empty = []
        for board in DASHBOARD_FILES:
            for title, ref, expr in panel_queries(board):
                result = servers.query(fill_variables(expr))
                values = [float(sample["value"][1]) for sample in result]
                if not values or all(math.isnan(value) for value in values):
                    empty.append(f"{board.name}: {title!r} ({ref}): {expr}")
            for expr in variable_queries(board):
                if not servers.query(fill_variables(expr)):
                    empty.append(f"{board.name}: template variable over {expr}")
        assert not empty, "queries that return no data:\n" + "\n".join(empty)

        # The freshness board drawn from this Prometheus: the late dataset's row is red.
        picture = (board_pictures or tmp_path) / "freshness-board.png"
        board = json.loads((CHART / "dashboards" / "civiclake-dataset-freshness.json").read_text())
        render_board(board, servers.query, servers.query_range, picture, range_seconds=60)
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

        rules = {rule["alert"]: rule["expr"] for rule in alerts(RULE_FILES)}
        failing = servers.query(rules["CiviclakeIngestionFailures"])
        assert [(s["metric"]["dataset"], s["metric"]["reason"]) for s in failing] == [("codes_postaux", "http")]
        repeated = servers.query(rules["CiviclakeRepeatedIngestionFailures"])
        assert [(s["metric"]["resource"], s["value"][1]) for s in repeated] == [
            ("base_officielle_des_codes_postaux", "3")
        ]
        late = servers.query(rules["CiviclakeDatasetLate"])
        assert [s["metric"]["dataset"] for s in late] == ["codes_postaux"]
        assert servers.query(rules["CiviclakeDbtTestFailures"])
        for quiet in ("CiviclakeNoSuccessfulRun", "CiviclakePushgatewayMetricsStale", "CiviclakePushgatewayDown"):
            assert servers.query(rules[quiet]) == [], quiet

        # Prometheus itself loaded every rule and evaluates them without error.
        loaded = [rule for group in servers.get("/api/v1/rules")["groups"] for rule in group["rules"]]
        assert len(loaded) == sum(1 for _ in alerts(RULE_FILES)) + len(
            [r for group in servers.get("/api/v1/rules")["groups"] for r in group["rules"] if r["type"] == "recording"]
        )
        assert {rule["health"] for rule in loaded} == {"ok"}, [r for r in loaded if r["health"] != "ok"]
        states = {(a["labels"]["alertname"], a["state"]) for a in servers.get("/api/v1/alerts")["alerts"]}
        assert ("CiviclakeRepeatedIngestionFailures", "firing") in states
        assert ("CiviclakeIngestionFailures", "pending") in states
