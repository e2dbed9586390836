"""Dashboards, statically: what the generator builds, valid for Grafana schemaVersion 39, only known metrics."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from prometheus_client import CollectorRegistry

from civiclake.observability.dashboards import BOARDS, SCHEMA_VERSION, render
from civiclake.observability.metrics import PipelineMetrics
from tests.observability.boards import metric_names, panel_queries, rules, variable_queries
from tests.observability.conftest import DASHBOARD_FILES, RULE_FILES, STATSD_MAPPING

# The part of Grafana's dashboard model (schemaVersion 39: Grafana 10.4 and 11) these boards use, strictly.
GRID = {
    "type": "object",
    "required": ["x", "y", "w", "h"],
    "properties": {
        "x": {"type": "integer", "minimum": 0, "maximum": 23},
        "y": {"type": "integer", "minimum": 0},
        "w": {"type": "integer", "minimum": 1, "maximum": 24},
        "h": {"type": "integer", "minimum": 1},
    },
    "additionalProperties": False,
}
DATASOURCE = {
    "type": "object",
    "required": ["type", "uid"],
    "properties": {"type": {"const": "prometheus"}, "uid": {"const": "prometheus"}},
    "additionalProperties": False,
}
TARGET = {
    "type": "object",
    "required": ["refId", "expr", "datasource"],
    "properties": {
        "refId": {"type": "string", "pattern": "^[A-Z]$"},
        "expr": {"type": "string", "minLength": 1},
        "datasource": DATASOURCE,
        "legendFormat": {"type": "string"},
        "instant": {"type": "boolean"},
        "range": {"type": "boolean"},
        "format": {"enum": ["time_series", "table", "heatmap"]},
    },
    "additionalProperties": False,
}
THRESHOLD_STEP = {
    "type": "object",
    "required": ["color", "value"],
    "properties": {"color": {"type": "string"}, "value": {"type": ["number", "null"]}},
}
PANEL = {
    "type": "object",
    "required": ["id", "type", "title", "gridPos", "datasource", "targets", "fieldConfig"],
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "type": {"enum": ["stat", "timeseries", "table", "bargauge"]},
        "title": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "gridPos": GRID,
        "datasource": DATASOURCE,
        "targets": {"type": "array", "minItems": 1, "items": TARGET},
        "fieldConfig": {
            "type": "object",
            "required": ["defaults", "overrides"],
            "properties": {
                "defaults": {
                    "type": "object",
                    "properties": {
                        "unit": {"type": "string"},
                        "min": {"type": "number"},
                        "max": {"type": "number"},
                        "thresholds": {
                            "type": "object",
                            "required": ["mode", "steps"],
                            "properties": {
                                "mode": {"enum": ["absolute", "percentage"]},
                                "steps": {"type": "array", "minItems": 1, "items": THRESHOLD_STEP},
                            },
                        },
                        "mappings": {"type": "array"},
                        "color": {"type": "object", "required": ["mode"]},
                    },
                },
                "overrides": {
                    "type": "array",
                    "items": {"type": "object", "required": ["matcher", "properties"]},
                },
            },
        },
        "options": {"type": "object"},
        "transformations": {"type": "array", "items": {"type": "object", "required": ["id", "options"]}},
        "min": {"type": "number"},
        "max": {"type": "number"},
    },
    "additionalProperties": False,
}
VARIABLE = {
    "type": "object",
    "required": ["name", "type", "datasource", "query", "definition", "refresh"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z_]+$"},
        "type": {"const": "query"},
        "refresh": {"enum": [1, 2]},
    },
}
DASHBOARD = {
    "type": "object",
    "required": ["uid", "title", "schemaVersion", "panels", "templating", "time", "tags", "editable"],
    "properties": {
        "uid": {"type": "string", "pattern": "^[a-z0-9-]{1,40}$"},
        "title": {"type": "string"},
        "schemaVersion": {"const": SCHEMA_VERSION},
        "panels": {"type": "array", "minItems": 4, "items": PANEL},
        "templating": {
            "type": "object",
            "required": ["list"],
            "properties": {"list": {"type": "array", "minItems": 1, "items": VARIABLE}},
        },
        "time": {"type": "object", "required": ["from", "to"]},
        "refresh": {"type": "string"},
        "tags": {"type": "array", "contains": {"const": "civiclake"}},
    },
}


def exported_metric_names() -> set[str]:
    """Every series name the code exports (a PipelineMetrics registry with each metric touched)."""
    registry = CollectorRegistry()
    metrics = PipelineMetrics(registry)
    for attribute in vars(metrics).values():
        if hasattr(attribute, "_labelnames") and hasattr(attribute, "labels"):
            child = attribute.labels(*["x"] * len(attribute._labelnames))
            (child.observe if hasattr(child, "observe") else child.inc)(1)
    return {sample.name for family in registry.collect() for sample in family.samples}


def known_metric_names() -> set[str]:
    recorded = {rule["record"] for rule in rules(RULE_FILES) if "record" in rule}
    mapping = yaml.safe_load(STATSD_MAPPING.read_text())["mappings"]
    airflow = {rule["name"] for rule in mapping if rule.get("action") != "drop"}
    airflow |= {f"{name}_{suffix}" for name in airflow for suffix in ("bucket", "sum", "count")}
    pushgateway = {"push_time_seconds", "push_failure_time_seconds", "up"}
    return exported_metric_names() | recorded | airflow | pushgateway


def test_committed_dashboards_are_what_the_generator_builds() -> None:
    assert sorted(path.stem for path in DASHBOARD_FILES) == sorted(BOARDS)
    for path in DASHBOARD_FILES:
        assert path.read_text() == render(BOARDS[path.stem]()), (
            f"{path.name} is stale: python -m civiclake.observability.dashboards charts/civiclake/dashboards"
        )


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda path: path.stem)
def test_dashboard_is_a_valid_grafana_dashboard(path) -> None:
    board = json.loads(path.read_text())
    jsonschema.validate(board, DASHBOARD)
    assert board["uid"] == path.stem
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
    # no two panels overlap
    cells = set()
    for panel in board["panels"]:
        grid = panel["gridPos"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, panel["title"]
                cells.add((x, y))
    used_variables = {name for _, _, expr in panel_queries(path) for name in ("source", "dataset", "model", "dag_id")
                      if f"${name}" in expr}  # fmt: skip
    assert used_variables <= {variable["name"] for variable in board["templating"]["list"]}


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda path: path.stem)
def test_dashboard_reads_only_metrics_the_code_exports(path) -> None:
    known = known_metric_names()
    expressions = [expr for _, _, expr in panel_queries(path)] + list(variable_queries(path))
    unknown = {name for expr in expressions for name in metric_names(expr)} - known
    assert not unknown, unknown


def test_boards_cover_sources_and_datasets() -> None:
    for uid in ("civiclake-pipeline-overview", "civiclake-dataset-freshness", "civiclake-lake-health"):
        board = BOARDS[uid]()
        assert [variable["name"] for variable in board["templating"]["list"]] == ["source", "dataset"]
    freshness = BOARDS["civiclake-dataset-freshness"]()
    table = next(panel for panel in freshness["panels"] if panel["type"] == "table")
    status = next(o for o in table["fieldConfig"]["overrides"] if o["matcher"]["options"] == "status")
    mapping = next(p["value"] for p in status["properties"] if p["id"] == "mappings")
    assert mapping[0]["options"]["1"]["color"] == "red"


def test_rules_read_only_metrics_the_code_exports() -> None:
    known = known_metric_names()
    for rule in rules(RULE_FILES):
        unknown = metric_names(rule["expr"]) - known
        assert not unknown, (rule.get("alert") or rule.get("record"), unknown)


def test_metric_name_extraction() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (source, le) (rate(a_bucket{x="y:z"}[5m]))) '
        "/ on (source) group_left max by (source) (b:c:d) > bool 1e3 or vector(0)"
    )
    assert metric_names(expr) == {"a_bucket", "b:c:d"}
