"""The registry the DAGs are generated from: one schema for civiclake and Airflow, errors that name the line, and
plans that pick the datasets each run owes a sync."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from civiclake.errors import ConfigurationError
from civiclake.registry import load_registry, registry_json_schema
from tests.dags.conftest import DAGS, REPO, AirflowRunner

DEMO_REGISTRY = REPO / "src" / "civiclake" / "demo" / "datasets.yaml"


def test_the_committed_schema_is_generated_from_the_pydantic_model() -> None:
    committed = json.loads((DAGS / "registry.schema.json").read_text())
    assert committed == registry_json_schema(), "run: python -m civiclake.registry > dags/registry.schema.json"


# (name, YAML, line the error must name, words it must contain, also refused by civiclake's own loader)
BAD_REGISTRIES = [
    (
        "typo",
        "datagouv:\n  datasets:\n    - id: 53698f4ca3a729239d2036df\n      frequncy: annual\n",
        4,
        "unknown key 'frequncy'",
        True,
    ),
    ("frequency", "datagouv:\n  datasets:\n    - id: x\n      frequency: sometimes\n", 4, "sometimes", True),
    ("cron-words", "olist:\n  schedule: every day\n", 2, "olist.schedule", True),
    # Five fields, so the schema's pattern lets it through; cron itself refuses minute 61 (civiclake does not parse
    # cron: only the DAG side can say).
    ("cron-values", "maintenance:\n  timeout_minutes: 60\n  schedule: '61 * * * *'\n", 3, "not a valid cron", False),
    ("search", "datagouv:\n  searches:\n    - max_datasets: 3\n", 3, "at least one of query", True),
    ("type", "shopstream:\n  schedule: '@hourly'\n  tables: users\n", 3, "shopstream.tables", True),
    ("section", "datagov:\n  datasets: []\n", 1, "unknown key 'datagov'", True),
    ("yaml", "datagouv:\n  datasets: [\n", 3, "not valid YAML", True),
]


@pytest.fixture(scope="module")
def dag_side_errors(module_airflow: AirflowRunner, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    texts = {name: text for name, text, *_ in BAD_REGISTRIES}
    texts["images"] = (DAGS / "datasets.yaml").read_text()
    texts["demo"] = DEMO_REGISTRY.read_text()
    path = tmp_path_factory.mktemp("registries") / "texts.json"
    path.write_text(json.dumps(texts))
    return module_airflow.probe("registry-errors", str(path))  # type: ignore[no-any-return]


def test_the_shipped_registries_fit_both_sides(dag_side_errors: dict[str, Any]) -> None:
    assert dag_side_errors["images"] is None
    assert dag_side_errors["demo"] is None
    assert load_registry(DAGS / "datasets.yaml").shopstream is not None
    assert load_registry(DEMO_REGISTRY).datagouv.datasets


@pytest.mark.parametrize(
    ("name", "text", "line", "words", "civiclake_refuses"), BAD_REGISTRIES, ids=[case[0] for case in BAD_REGISTRIES]
)
def test_a_bad_entry_is_refused_with_its_line(
    dag_side_errors: dict[str, Any],
    tmp_path: Path,
    name: str,
    text: str,
    line: int,
    words: str,
    civiclake_refuses: bool,
) -> None:
    error = dag_side_errors[name]
    assert error is not None, f"{name}: accepted by the DAG side"
    assert f"line {line}" in error and words in error, error
    assert error.startswith(f"dataset registry {name}" if name != "yaml" else name)
    path = tmp_path / "datasets.yaml"
    path.write_text(text)
    if civiclake_refuses:
        with pytest.raises(ConfigurationError):
            load_registry(path)
    else:
        load_registry(path)


def test_a_bad_registry_is_an_import_error_of_every_dag_naming_the_line(airflow: AirflowRunner, tmp_path: Path) -> None:
    registry = tmp_path / "datasets.yaml"
    registry.write_text("datagouv:\n  datasets:\n    - id: 53698f4ca3a729239d2036df\n      frequncy: annual\n")
    found = airflow.probe("dagbag", extra_env={"CIVICLAKE__REGISTRY__PATH": str(registry)})
    assert found["dags"] == {}
    assert len(found["import_errors"]) == 6
    for error in found["import_errors"].values():
        assert f"dataset registry {registry}" in error and "line 4" in error and "frequncy" in error


def test_the_chart_can_pass_the_registry_inline(airflow: AirflowRunner) -> None:
    inline = "incidents:\n  schedule: '*/15 * * * *'\n"
    found = airflow.probe("dagbag", extra_env={"CIVICLAKE_REGISTRY_YAML": inline})
    # No datagouv dataset or search: no datagouv_sync DAG.
    assert set(found["dags"]) == {"incidents_sync", "warehouse_build", "lake_maintenance"}
    assert found["dags"]["warehouse_build"]["schedule_assets"] == ["civiclake://bronze/rest"]
    assert found["dags"]["incidents_sync"]["schedule"] == "*/15 * * * *"
    broken = airflow.probe("dagbag", extra_env={"CIVICLAKE_REGISTRY_YAML": "incidents:\n  schedul: x\n"})
    assert all("$CIVICLAKE_REGISTRY_YAML" in error and "line 2" in error for error in broken["import_errors"].values())


SCHEDULED_TICKS = {
    # Saturday 1 March: the monthly codes postaux and the daily gares; not the annual ones, not Monday's IRVE.
    "2025-03-01T00:00:00+00:00": ["codes_postaux", "gares"],
    # Tuesday 4 March, midnight: IRVE's Monday 06:00 fired since the previous (daily) run.
    "2025-03-04T00:00:00+00:00": ["gares", "irve_eure_et_loir"],
    "2026-01-01T00:00:00+00:00": ["codes_postaux", "gares", "frequentation_gares", "accidents"],
}
MANUAL = "datagouv_sync|manual|2025-03-01T00:00:00+00:00"
SHOPSTREAM = "shopstream_sync|scheduled|2025-03-01T05:00:00+00:00"


@pytest.fixture(scope="module")
def plans(module_airflow: AirflowRunner) -> dict[str, list[dict[str, Any]]]:
    requests = [MANUAL, SHOPSTREAM, *(f"datagouv_sync|scheduled|{tick}" for tick in SCHEDULED_TICKS)]
    return module_airflow.probe("plan", *requests)  # type: ignore[no-any-return]


def _keys(plan: list[dict[str, Any]]) -> list[str]:
    return [entry["labels"]["civiclake.io/step"] for entry in plan]


def test_a_run_started_by_hand_syncs_every_registered_dataset(plans: dict[str, Any]) -> None:
    plan = plans[MANUAL]
    assert _keys(plan) == ["codes_postaux", "gares", "frequentation_gares", "accidents", "irve_eure_et_loir"]
    first = plan[0]
    assert first["arguments"] == ["sync", "--source", "datagouv", "--dataset", "53d65eb8bd2bb1511380c55a"]
    assert first["env_vars"] == {"CIVICLAKE_SUMMARY_JSON": "/airflow/xcom/return.json"}
    assert first["name"] == "datagouv-sync-codes-postaux"
    assert first["labels"]["civiclake.io/source"] == "datagouv"


@pytest.mark.parametrize(("tick", "due"), SCHEDULED_TICKS.items())
def test_a_scheduled_run_syncs_the_datasets_whose_frequency_fired(
    plans: dict[str, Any], tick: str, due: list[str]
) -> None:
    assert _keys(plans[f"datagouv_sync|scheduled|{tick}"]) == due


def test_shopstream_gets_one_task_per_table(plans: dict[str, Any]) -> None:
    plan = plans[SHOPSTREAM]
    tables = ["users", "products", "orders", "order_items", "events", "crm_contacts"]
    assert _keys(plan) == tables
    assert [entry["env_vars"]["CIVICLAKE__POSTGRES__TABLES"] for entry in plan] == tables
    assert {tuple(entry["arguments"]) for entry in plan} == {("sync", "--source", "postgres")}
