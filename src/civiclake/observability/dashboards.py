"""The civiclake Grafana dashboards, written as Python and saved as the JSON the chart provisions.

    python -m civiclake.observability.dashboards charts/civiclake/dashboards

writes one ``<uid>.json`` per board; tests/observability checks that the committed files are what this module
builds, that each is a valid Grafana dashboard (schemaVersion 39, Grafana 10.4 and 11), that every query reads only
metrics the code exports or the rules record, and that every query returns data from a real run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 39
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
SEL = 'source=~"$source", dataset=~"$dataset"'

Panel = dict[str, Any]


def _target(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> dict[str, Any]:
    target: dict[str, Any] = {"refId": ref, "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
    if instant:
        target.update(instant=True, range=False, format="table")
    return target


def _panel(
    kind: str, title: str, targets: list[dict[str, Any]], grid: tuple[int, int, int, int], **extra: Any
) -> Panel:
    x, y, w, h = grid
    unit = extra.pop("unit", "short")
    thresholds = extra.pop("thresholds", None) or [{"color": "green", "value": None}]
    defaults: dict[str, Any] = {
        "unit": unit,
        "thresholds": {"mode": "absolute", "steps": thresholds},
        "color": {"mode": extra.pop("color_mode", "palette-classic" if kind == "timeseries" else "thresholds")},
    }
    for key in ("mappings", "min", "max", "noValue"):
        if key in extra:
            defaults[key] = extra.pop(key)
    panel: Panel = {
        "type": kind,
        "title": title,
        "description": extra.pop("description", ""),
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "datasource": DATASOURCE,
        "fieldConfig": {"defaults": defaults, "overrides": extra.pop("overrides", [])},
        "options": extra.pop("options", {}),
        "targets": targets,
    }
    panel.update(extra)
    return panel


def _stat(title: str, expr: str, grid: tuple[int, int, int, int], **extra: Any) -> Panel:
    options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "colorMode": "background"}
    return _panel("stat", title, [_target(expr)], grid, options=options, **extra)


def _timeseries(title: str, expr: str, legend: str, grid: tuple[int, int, int, int], **extra: Any) -> Panel:
    options = {"legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull"]}}
    return _panel("timeseries", title, [_target(expr, legend)], grid, options=options, **extra)


def _bars(title: str, expr: str, legend: str, grid: tuple[int, int, int, int], **extra: Any) -> Panel:
    options = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "orientation": "horizontal",
        "displayMode": "gradient",
    }
    return _panel("bargauge", title, [_target(expr, legend)], grid, options=options, **extra)


def _table(title: str, targets: list[dict[str, Any]], grid: tuple[int, int, int, int], **extra: Any) -> Panel:
    rename = extra.pop("rename", {})
    transformations = [
        {"id": "merge", "options": {}},
        {"id": "organize", "options": {"excludeByName": {"Time": True}, "renameByName": rename}},
    ]
    options = {"showHeader": True, "cellHeight": "sm", "sortBy": extra.pop("sort_by", [])}
    return _panel("table", title, targets, grid, options=options, transformations=transformations, **extra)


def _variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": name},
        "definition": query,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "refresh": 2,
        "sort": 1,
        "current": {"text": "All", "value": "$__all"},
    }


SOURCE_VARIABLE = _variable(
    "source", "Source", "label_values(civiclake_dataset_last_success_timestamp_seconds, source)"
)
DATASET_VARIABLE = _variable(
    "dataset", "Dataset", 'label_values(civiclake_dataset_last_success_timestamp_seconds{source=~"$source"}, dataset)'
)


def _dashboard(uid: str, title: str, description: str, panels: list[Panel], variables: list[dict[str, Any]]) -> dict:
    for number, panel in enumerate(panels, start=1):
        panel["id"] = number
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["civiclake"],
        "timezone": "utc",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": False,
        "graphTooltip": 1,
        "refresh": "1m",
        "time": {"from": "now-24h", "to": "now"},
        "annotations": {"list": []},
        "links": [
            {"type": "dashboards", "tags": ["civiclake"], "title": "civiclake", "asDropdown": True, "includeVars": True}
        ],
        "templating": {"list": variables},
        "panels": panels,
    }


RED_ABOVE_ZERO = [{"color": "green", "value": None}, {"color": "red", "value": 1}]


def pipeline_overview() -> dict:
    panels = [
        _stat(
            "Since the last successful run",
            'min(source:civiclake_pipeline_since_last_success_seconds:min{source=~"$source"})',
            (0, 0, 6, 4),
            unit="s",
            thresholds=[{"color": "green", "value": None}, {"color": "red", "value": 26 * 3600}],
        ),
        _stat(
            "Datasets late",
            'sum(source:civiclake_datasets_late:sum{source=~"$source"}) or vector(0)',
            (6, 0, 6, 4),
            thresholds=RED_ABOVE_ZERO,
        ),
        _stat(
            "Resources failed (last runs)",
            f"sum(source_dataset_reason:civiclake_ingest_failures:last_run{{{SEL}}}) or vector(0)",
            (12, 0, 6, 4),
            thresholds=RED_ABOVE_ZERO,
        ),
        _stat(
            "Pushgateway scraped",
            'min(up{job="prometheus-pushgateway"})',
            (18, 0, 6, 4),
            thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}],
            mappings=[{"type": "value", "options": {"0": {"text": "DOWN"}, "1": {"text": "UP"}}}],
        ),
        _timeseries(
            "Rows loaded by the last run",
            f"source_dataset:civiclake_ingest_rows:last_run{{{SEL}}}",
            "{{source}}/{{dataset}}",
            (0, 4, 12, 8),
        ),
        _timeseries(
            "Bytes downloaded by the last run",
            f"source_dataset:civiclake_ingest_bytes:last_run{{{SEL}}}",
            "{{source}}/{{dataset}}",
            (12, 4, 12, 8),
            unit="bytes",
        ),
        _bars(
            "Resources by outcome (last runs)",
            f"sum by (status) (source_dataset_status:civiclake_ingest_resources:last_run{{{SEL}}})",
            "{{status}}",
            (0, 12, 8, 8),
        ),
        _timeseries(
            "Failures by reason (last runs)",
            f"sum by (source, dataset, reason) (source_dataset_reason:civiclake_ingest_failures:last_run{{{SEL}}})",
            "{{dataset}}: {{reason}}",
            (8, 12, 8, 8),
            color_mode="fixed",
        ),
        _timeseries(
            "Download and load time per resource, p95",
            "histogram_quantile(0.95, sum by (source, dataset, le) "
            f"(civiclake_ingest_duration_seconds_bucket{{{SEL}}}))",
            "{{source}}/{{dataset}}",
            (16, 12, 8, 8),
            unit="s",
        ),
        _timeseries(
            "Sync run duration",
            'max by (source) (civiclake_pipeline_run_duration_seconds{source=~"$source"})',
            "{{source}}",
            (0, 20, 12, 8),
            unit="s",
        ),
        _table(
            "Last push per Pushgateway group",
            [_target('time() - max by (job, source, dataset) (push_time_seconds{job=~"civiclake.*"})', instant=True)],
            (12, 20, 12, 8),
            rename={"Value": "since last push"},
            unit="s",
        ),
    ]
    return _dashboard(
        "civiclake-pipeline-overview",
        "civiclake — pipeline overview",
        "What the last sync runs loaded and failed, per source and dataset (pushed by the ingestion pods).",
        panels,
        [SOURCE_VARIABLE, DATASET_VARIABLE],
    )


def dataset_freshness() -> dict:
    # status: 0 on time, 1 late, 3 never loaded (late and never loaded); 2 (never loaded, no period) is not late.
    status_mapping = [
        {
            "type": "value",
            "options": {
                "0": {"text": "on time", "color": "green"},
                "1": {"text": "LATE", "color": "red"},
                "2": {"text": "never loaded", "color": "orange"},
                "3": {"text": "never loaded", "color": "red"},
            },
        }
    ]
    never = f"source_dataset:civiclake_dataset_never_loaded:bool{{{SEL}}}"
    panels = [
        _stat(
            "Datasets late",
            f"sum(source_dataset:civiclake_dataset_late:bool{{{SEL}}}) or vector(0)",
            (0, 0, 6, 4),
            thresholds=RED_ABOVE_ZERO,
        ),
        _stat("Never loaded", f"sum({never}) or vector(0)", (6, 0, 6, 4), thresholds=RED_ABOVE_ZERO),
        _stat(
            "Datasets watched",
            f"count(civiclake_dataset_last_success_timestamp_seconds{{{SEL}}})",
            (12, 0, 6, 4),
        ),
        _stat(
            "Oldest last success (loaded datasets)",
            f"max(source_dataset:civiclake_dataset_age_seconds:max{{{SEL}}})",
            (18, 0, 6, 4),
            unit="s",
            noValue="none loaded",
        ),
        _table(
            "Datasets (one row each; late ones red)",
            [
                _target(
                    f"source_dataset:civiclake_dataset_late:bool{{{SEL}}} + on (source, dataset) 2 * {never}",
                    ref="A",
                    instant=True,
                ),
                _target(f"source_dataset:civiclake_dataset_age_seconds:max{{{SEL}}}", ref="B", instant=True),
                _target(
                    f"max by (source, dataset) (civiclake_dataset_late_after_seconds{{{SEL}}})", ref="C", instant=True
                ),
                _target(
                    f"max by (source, dataset) (civiclake_dataset_last_success_timestamp_seconds{{{SEL}}} > 0) * 1000",
                    ref="D",
                    instant=True,
                ),
                _target(
                    f"max by (source, dataset) (civiclake_dataset_failing_resources{{{SEL}}})", ref="E", instant=True
                ),
            ],
            (0, 4, 24, 12),
            rename={
                "Value #A": "status",
                "Value #B": "since last success",
                "Value #C": "late after",
                "Value #D": "last success",
                "Value #E": "failing resources",
            },
            sort_by=[{"displayName": "status", "desc": True}],
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "status"},
                    "properties": [
                        {"id": "mappings", "value": status_mapping},
                        {"id": "custom.cellOptions", "value": {"type": "color-background"}},
                    ],
                },
                *[
                    {
                        "matcher": {"id": "byName", "options": name},
                        "properties": [{"id": "unit", "value": unit}, {"id": "noValue", "value": "never"}],
                    }
                    for name, unit in (("since last success", "s"), ("last success", "dateTimeAsIso"))
                ],
                {"matcher": {"id": "byName", "options": "late after"}, "properties": [{"id": "unit", "value": "s"}]},
            ],
        ),
        _bars(
            "Age against the allowed age (100% = late; never loaded: 100%)",
            f"clamp_max(source_dataset:civiclake_dataset_age_seconds:max{{{SEL}}} / on (source, dataset) "
            f"max by (source, dataset) (civiclake_dataset_late_after_seconds{{{SEL}}}), 1) "
            f"or on (source, dataset) ({never} == 1)",
            "{{source}}/{{dataset}}",
            (0, 16, 12, 10),
            unit="percentunit",
            thresholds=[
                {"color": "green", "value": None},
                {"color": "orange", "value": 0.8},
                {"color": "red", "value": 1},
            ],
            max=1,
            min=0,
        ),
        _timeseries(
            "Overdue (negative: time left before late; loaded datasets)",
            f"source_dataset:civiclake_dataset_overdue_seconds:max{{{SEL}}}",
            "{{source}}/{{dataset}}",
            (12, 16, 12, 10),
            unit="s",
        ),
    ]
    return _dashboard(
        "civiclake-dataset-freshness",
        "civiclake — dataset freshness",
        "Each dataset's last successful load against its declared update frequency plus grace.",
        panels,
        [SOURCE_VARIABLE, DATASET_VARIABLE],
    )


def dbt_runs() -> dict:
    model = 'model=~"$model"'
    panels = [
        _stat(
            "Since the last dbt run", "time() - max(civiclake_dbt_last_run_timestamp_seconds)", (0, 0, 6, 4), unit="s"
        ),
        _stat("Last dbt run took", "max(civiclake_dbt_run_duration_seconds)", (6, 0, 6, 4), unit="s"),
        _stat(
            "Tests failed",
            f"sum(model:civiclake_dbt_tests_failed:sum{{{model}}}) or vector(0)",
            (12, 0, 6, 4),
            thresholds=RED_ABOVE_ZERO,
        ),
        _stat(
            "Models in error",
            'sum(civiclake_dbt_nodes{resource_type="model", status="error"}) or vector(0)',
            (18, 0, 6, 4),
            thresholds=RED_ABOVE_ZERO,
        ),
        _bars(
            "Model build time (last run)",
            f"sort_desc(max by (model) (civiclake_dbt_model_duration_seconds{{{model}}}))",
            "{{model}}",
            (0, 4, 12, 12),
            unit="s",
        ),
        _bars(
            "Failed tests per model",
            f"sort_desc(model:civiclake_dbt_tests_failed:sum{{{model}}})",
            "{{model}}",
            (12, 4, 12, 12),
            thresholds=RED_ABOVE_ZERO,
        ),
        _table(
            "Nodes by type and status (last run)",
            [_target("civiclake_dbt_nodes", instant=True)],
            (0, 16, 24, 8),
            rename={"Value": "nodes"},
        ),
    ]
    variable = _variable("model", "Model", "label_values(civiclake_dbt_model_duration_seconds, model)")
    return _dashboard(
        "civiclake-dbt",
        "civiclake — dbt runs and tests",
        "Model build times and test failures of the last dbt run (from dbt's run_results.json).",
        panels,
        [variable],
    )


def lake_health() -> dict:
    panels = [
        _stat(
            "Lake size (bronze tables)",
            'sum(source:civiclake_lake_size_bytes:sum{source=~"$source"})',
            (0, 0, 8, 4),
            unit="bytes",
        ),
        _stat("Data files", 'sum(source:civiclake_lake_data_files:sum{source=~"$source"})', (8, 0, 8, 4)),
        _stat("Snapshots kept", 'sum(source:civiclake_lake_snapshots:sum{source=~"$source"})', (16, 0, 8, 4)),
        _timeseries(
            "Size per dataset",
            f"sum by (source, dataset) (civiclake_table_size_bytes{{{SEL}}})",
            "{{source}}/{{dataset}}",
            (0, 4, 12, 8),
            unit="bytes",
        ),
        _bars(
            "Snapshots per table (expire them above 100)",
            f"topk(20, civiclake_table_snapshots{{{SEL}}})",
            "{{table}}",
            (12, 4, 12, 8),
            thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 100}],
        ),
        _bars(
            "Average data file size (small files slow scans)",
            f"bottomk(20, civiclake_table_size_bytes{{{SEL}}} / civiclake_table_data_files{{{SEL}}} > 0)",
            "{{table}}",
            (0, 12, 12, 8),
            unit="bytes",
        ),
        _table(
            "Tables",
            [
                _target(f"civiclake_table_rows{{{SEL}}}", ref="A", instant=True),
                _target(f"civiclake_table_data_files{{{SEL}}}", ref="B", instant=True),
                _target(f"civiclake_table_size_bytes{{{SEL}}}", ref="C", instant=True),
                _target(f"civiclake_table_snapshots{{{SEL}}}", ref="D", instant=True),
                _target(f"time() - civiclake_table_last_commit_timestamp_seconds{{{SEL}}}", ref="E", instant=True),
            ],
            (12, 12, 12, 8),
            rename={
                "Value #A": "rows",
                "Value #B": "data files",
                "Value #C": "size",
                "Value #D": "snapshots",
                "Value #E": "since last commit",
            },
            overrides=[
                {"matcher": {"id": "byName", "options": "size"}, "properties": [{"id": "unit", "value": "bytes"}]},
                {
                    "matcher": {"id": "byName", "options": "since last commit"},
                    "properties": [{"id": "unit", "value": "s"}],
                },
            ],
        ),
    ]
    return _dashboard(
        "civiclake-lake-health",
        "civiclake — lake and Iceberg tables",
        "Size, files and snapshots of the Iceberg tables, from their snapshot summaries.",
        panels,
        [SOURCE_VARIABLE, DATASET_VARIABLE],
    )


def airflow() -> dict:
    dag = 'dag_id=~"$dag_id"'
    panels = [
        _stat(
            "Scheduler heartbeats per minute",
            "sum(rate(airflow_scheduler_heartbeat_total[$__rate_interval])) * 60",
            (0, 0, 6, 4),
            thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}],
        ),
        _stat(
            "DAG import errors", "max(airflow_dag_import_errors) or vector(0)", (6, 0, 6, 4), thresholds=RED_ABOVE_ZERO
        ),
        _stat("Running tasks", "sum(airflow_executor_running_tasks)", (12, 0, 6, 4)),
        _stat("Queued tasks", "sum(airflow_executor_queued_tasks)", (18, 0, 6, 4)),
        _timeseries(
            "DAG run duration, p95",
            "histogram_quantile(0.95, sum by (dag_id, le) "
            f"(rate(airflow_dagrun_duration_seconds_bucket{{{dag}}}[$__rate_interval])))",
            "{{dag_id}}",
            (0, 4, 12, 8),
            unit="s",
        ),
        _timeseries(
            "Task instances finished per hour, by state",
            f"sum by (dag_id, state) (increase(airflow_task_finished_total{{{dag}}}[1h]))",
            "{{dag_id}} {{state}}",
            (12, 4, 12, 8),
        ),
        _bars(
            "Failed task instances in the last 24 h",
            f'sum by (dag_id, task_id) (increase(airflow_task_finished_total{{{dag}, state="failed"}}[24h]))',
            "{{dag_id}}.{{task_id}}",
            (0, 12, 12, 8),
            thresholds=RED_ABOVE_ZERO,
        ),
        _timeseries("Pool open slots", "sum by (pool) (airflow_pool_open_slots)", "{{pool}}", (12, 12, 12, 8)),
    ]
    variable = _variable("dag_id", "DAG", "label_values(airflow_dagrun_duration_seconds_count, dag_id)")
    return _dashboard(
        "civiclake-airflow",
        "civiclake — Airflow",
        "Airflow's StatsD metrics through statsd-exporter "
        "(mapping: src/civiclake/observability/airflow-statsd-mapping.yaml).",
        panels,
        [variable],
    )


BOARDS = {
    "civiclake-pipeline-overview": pipeline_overview,
    "civiclake-dataset-freshness": dataset_freshness,
    "civiclake-dbt": dbt_runs,
    "civiclake-lake-health": lake_health,
    "civiclake-airflow": airflow,
}


def render(board: dict) -> str:
    return json.dumps(board, indent=2, ensure_ascii=False) + "\n"


def write_all(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for uid, build in BOARDS.items():
        path = folder / f"{uid}.json"
        path.write_text(render(build()))
        written.append(path)
    return written


if __name__ == "__main__":
    for written in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "charts/civiclake/dashboards")):
        print(written)
