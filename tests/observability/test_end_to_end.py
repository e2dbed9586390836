"""The demo pipeline's metrics in a real Pushgateway scraped by a real Prometheus: every board query returns data.

Syncs the demo registry from the bundled mirror with one resource broken (HTTP 500 every time), as batch pods
would: one fresh registry per run, pushed one group per dataset. The broken dataset runs three times, so its
failure streak reaches the repeated-failures threshold. dbt's metrics come from a real `civiclake transform` with
tests made to fail (conftest.failing_dbt_build); Airflow's from StatsD lines put through the real statsd_exporter
with civiclake's mapping (tests/dags/test_statsd_metrics.py checks these lines against what real Airflow sends).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import httpx
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
from tests.observability.board_pixels import table_row_colours
from tests.observability.boards import alerts, fill_variables, panel_queries, variable_queries
from tests.observability.conftest import CHART, DASHBOARD_FILES, RULE_FILES, STATSD_MAPPING, DbtBuild
from tests.observability.prometheus_servers import PrometheusServers, running_prometheus
from tests.pipeline.lakehouse import CODES_POSTAUX, CODES_POSTAUX_CSV
from tests.servers.statsd_exporter import StatsdExporter, running_statsd_exporter, send_and_settle

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


def push_airflow(servers: PrometheusServers, exporter: StatsdExporter, repeats: int) -> None:
    """Airflow's lines through the real exporter; its Airflow series go to the Pushgateway (one scrape target less)."""
    send_and_settle(exporter, [line.encode() for _ in range(repeats) for line in AIRFLOW_LINES])
    kept = []
    for line in exporter.metrics().splitlines():
        name = line.split()[2] if line.startswith("#") else line
        if name.startswith("airflow_"):
            kept.append(line)
    response = httpx.put(
        f"{servers.pushgateway_url}/metrics/job/airflow-statsd/instance/statsd-exporter",
        content="\n".join(kept) + "\n",
        timeout=10,
    )
    response.raise_for_status()


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
    tmp_path: Path,
    settings: Settings,
    mirror: MirrorServer,
    board_pictures: Path | None,
    failing_dbt_build: DbtBuild,
) -> None:
    registry_datasets = load_registry(DEMO_REGISTRY).datagouv.datasets
    broken = [entry for entry in registry_datasets if entry.id == CODES_POSTAUX]
    mirror.inject_fault(CODES_POSTAUX_CSV, Fault.http_status(500), times=None)

    with (
        running_prometheus(tmp_path / "prometheus", RULE_FILES) as servers,
        running_statsd_exporter(tmp_path / "statsd", STATSD_MAPPING) as exporter,
    ):
        first = sync_and_push(settings, registry_datasets, servers.pushgateway_url)
        assert [outcome.resource_id for outcome in first.failed] == [CODES_POSTAUX_CSV]
        assert any(outcome.rows for outcome in first.outcomes)
        for _ in range(2):  # the broken dataset's own pod, on the next two schedules
            sync_and_push(settings, broken, servers.pushgateway_url)
        dbt = CollectorRegistry()
        PipelineMetrics(dbt).observe_dbt_run(failing_dbt_build.run_results)
        push_metrics(dbt, servers.pushgateway_url, "civiclake-dbt", {"command": "build"})
        push_airflow(servers, exporter, repeats=1)
        groups = len({(o.source, o.dataset) for o in first.outcomes}) + 2
        wait_for(servers, f"count(push_time_seconds) >= {groups}", "every pushed group scraped")
        time.sleep(1.5)  # a second scrape of Airflow's first counts, then more: rate() needs two points
        push_airflow(servers, exporter, repeats=3)
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
        table = next(panel for panel in board["panels"] if panel["type"] == "table")
        status = next(target for target in table["targets"] if target["refId"] == "A")
        rows = servers.query(fill_variables(status["expr"]))
        # status: 0 on time, 1 late, 3 never loaded and late (the codes_postaux fault here), both red
        late = {sample["metric"]["dataset"] for sample in rows if float(sample["value"][1]) in (1, 3)}
        assert late == {"codes_postaux"} and len(rows) > 1, rows
        # The table lists late rows first (its sort), one row per dataset: red for the late one, green for the rest.
        expected = ["red"] * len(late) + ["green"] * (len(rows) - len(late))
        assert table_row_colours(picture, board, table["title"], ("red", "green")) == expected

        rules = {rule["alert"]: rule["expr"] for rule in alerts(RULE_FILES)}
        failing = servers.query(rules["CiviclakeIngestionFailures"])
        assert [(s["metric"]["dataset"], s["metric"]["reason"]) for s in failing] == [("codes_postaux", "http")]
        repeated = servers.query(rules["CiviclakeRepeatedIngestionFailures"])
        assert [(s["metric"]["resource"], s["value"][1]) for s in repeated] == [
            ("base_officielle_des_codes_postaux", "3")
        ]
        late = servers.query(rules["CiviclakeDatasetLate"])
        assert [s["metric"]["dataset"] for s in late] == ["codes_postaux"]
        dbt_failing = servers.query(rules["CiviclakeDbtTestFailures"])
        assert [(s["metric"]["model"], s["value"][1]) for s in dbt_failing] == [("dim_station", "2")]
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
