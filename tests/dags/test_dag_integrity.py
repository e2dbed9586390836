"""Every DAG file imports cleanly, and every task carries what production needs (owner, retries, timeouts, pools,
failure alerts, assets). Checked on the real DAGs, loaded by Airflow's own DagBag in the Airflow virtualenv."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from tests.dags.conftest import DAG_IDS, DAGS, AirflowRunner


@pytest.fixture(scope="module")
def bag(module_airflow: AirflowRunner) -> dict[str, Any]:
    return module_airflow.probe("dagbag")  # type: ignore[no-any-return]


def test_every_dag_file_imports_without_errors_or_warnings(bag: dict[str, Any]) -> None:
    assert bag["import_errors"] == {}
    assert bag["warnings"] == {}, "deprecations and the like, caught by Airflow while parsing"
    assert set(bag["dags"]) == DAG_IDS
    for dag_id, dag in bag["dags"].items():
        assert Path(dag["fileloc"]).name == f"{dag_id}.py", "one file per DAG, named after it"


def test_dags_run_one_at_a_time_without_catchup_and_are_owned_and_tagged(bag: dict[str, Any]) -> None:
    for dag_id, dag in bag["dags"].items():
        assert dag["catchup"] is False, dag_id
        assert dag["max_active_runs"] == 1, dag_id
        assert dag["owner"] == "civiclake", dag_id
        assert "civiclake" in dag["tags"] and len(dag["tags"]) >= 3, dag_id


def test_every_task_has_retries_with_backoff_a_timeout_and_a_failure_alert(bag: dict[str, Any]) -> None:
    for dag_id, dag in bag["dags"].items():
        for task in dag["tasks"]:
            where = f"{dag_id}.{task['task_id']}"
            assert task["owner"] == "civiclake", where
            assert task["execution_timeout"] and task["execution_timeout"] > 0, where
            assert task["on_failure_callback"] == ["WebhookFailureNotifier"], where
            if task["task_id"] == "plan":
                assert task["retries"] == 0 and task["execution_timeout"] == 300, where  # cheap, deterministic
                continue
            assert task["operator"] == "CivicLakeCommandOperator", where
            assert task["retries"] == (0 if task["task_id"] == "freshness" else 3), where
            assert task["retry_delay"] == 120, where
            assert task["retry_exponential_backoff"] == 2.0 and task["max_retry_delay"] == 3600, where


def test_sync_dags_map_one_task_per_dataset_and_emit_their_bronze_asset(bag: dict[str, Any]) -> None:
    expected_assets = {
        "datagouv_sync": "civiclake://bronze/datagouv",
        "shopstream_sync": "civiclake://bronze/postgres",
        "olist_sync": "civiclake://bronze/files",
        "incidents_sync": "civiclake://bronze/rest",
    }
    for dag_id, asset in expected_assets.items():
        tasks = {task["task_id"]: task for task in bag["dags"][dag_id]["tasks"]}
        assert set(tasks) == {"plan", "sync"}
        assert tasks["sync"]["mapped"] is True and tasks["sync"]["upstream"] == ["plan"]
        assert tasks["sync"]["outlets"] == [asset]
        assert tasks["sync"]["pool"] == f"civiclake_{dag_id.removesuffix('_sync')}"
        assert tasks["sync"]["max_active_tis_per_dag"] == 2  # the registry's default max_active_syncs
        assert tasks["sync"]["execution_timeout"] == 180 * 60
    warehouse = bag["dags"]["warehouse_build"]
    assert warehouse["timetable"] == "AssetTriggeredTimetable"
    assert warehouse["schedule_assets"] == sorted(expected_assets.values())


def test_schedules_come_from_the_registry(bag: dict[str, Any]) -> None:
    dags = bag["dags"]
    # datagouv: no schedule in the registry, so the most frequent of its datasets' (gares has none: daily).
    assert dags["datagouv_sync"]["schedule"] == "@daily"
    assert dags["olist_sync"]["schedule"] == "*/30 * * * *"
    assert dags["lake_maintenance"]["schedule"] == "0 3 * * *"


def test_warehouse_and_maintenance_steps_run_in_order_in_one_pool(bag: dict[str, Any]) -> None:
    chains = {
        "warehouse_build": ["freshness", "build", "test"],
        "lake_maintenance": ["audit_load", "compact", "expire_snapshots", "remove_orphans"],
    }
    for dag_id, order in chains.items():
        tasks = {task["task_id"]: task for task in bag["dags"][dag_id]["tasks"]}
        assert list(tasks) == order
        for previous, task_id in itertools.pairwise(order):
            assert tasks[task_id]["upstream"] == [previous]
        assert {task["pool"] for task in tasks.values()} == {"civiclake_warehouse"}
    assert [task["outlets"] for task in bag["dags"]["warehouse_build"]["tasks"]] == [
        [],
        ["civiclake://warehouse/gold"],
        [],
    ]


def test_the_registry_sizes_how_many_syncs_of_a_family_run_at_once(airflow: AirflowRunner, tmp_path: Path) -> None:
    registry = tmp_path / "datasets.yaml"
    registry.write_text(
        "datagouv:\n  max_active_syncs: 5\n  datasets:\n    - id: 53d65eb8bd2bb1511380c55a\n      name: codes_postaux\n"
    )
    found = airflow.probe("dagbag", extra_env={"CIVICLAKE__REGISTRY__PATH": str(registry)})
    sync = next(task for task in found["dags"]["datagouv_sync"]["tasks"] if task["task_id"] == "sync")
    assert (sync["pool"], sync["max_active_tis_per_dag"]) == ("civiclake_datagouv", 5)


def test_every_pool_a_task_uses_is_created_by_the_chart(bag: dict[str, Any]) -> None:
    pools = json.loads((DAGS / "pools.json").read_text())
    used = {task["pool"] for dag in bag["dags"].values() for task in dag["tasks"]} - {"default_pool"}
    assert used == set(pools)
    assert all(entry["slots"] >= 1 and entry["description"] for entry in pools.values())


def test_parsing_the_dags_touches_no_network_and_no_database(airflow: AirflowRunner, tmp_path: Path) -> None:
    """By construction: sockets and database connections raise while the DagBag fills, and the metadata database
    URL points nowhere. A DAG file that reads a Variable or calls out at parse time becomes an import error."""
    nowhere = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/missing/dir/airflow.db"}
    guarded = airflow.probe("dagbag", "--forbid-io", extra_env=nowhere)
    assert guarded["import_errors"] == {} and set(guarded["dags"]) == DAG_IDS

    # The guard is real: the same probe refuses a DAG file that calls out while it is parsed.
    folder = tmp_path / "bad-dags"
    folder.mkdir()
    (folder / "calls_out.py").write_text(
        "import socket\n"
        "from airflow.sdk import DAG\n"
        "socket.create_connection(('registry.example.org', 443))\n"
        "dag = DAG('calls_out', schedule=None)\n"
    )
    refused = airflow.probe("dagbag", "--forbid-io", str(folder), extra_env=nowhere)
    assert refused["dags"] == {}
    (error,) = refused["import_errors"].values()
    assert "ParseTimeIOError" in error


def test_a_family_missing_from_the_registry_gets_no_dag(airflow: AirflowRunner, tmp_path: Path) -> None:
    registry = tmp_path / "datasets.yaml"
    registry.write_text("datagouv:\n  datasets:\n    - id: 53d65eb8bd2bb1511380c55a\n      name: codes_postaux\n")
    found = airflow.probe("dagbag", extra_env={"CIVICLAKE__REGISTRY__PATH": str(registry)})
    assert found["import_errors"] == {}
    assert set(found["dags"]) == {"datagouv_sync", "warehouse_build", "lake_maintenance"}
    assert found["dags"]["warehouse_build"]["schedule_assets"] == ["civiclake://bronze/datagouv"]


def test_the_demo_registry_of_the_laptop_recipe_gives_every_dag(airflow: AirflowRunner) -> None:
    """docs/orchestration.md runs the DAGs on a laptop with the demo's registry: all six must be there."""
    demo_registry = DAGS.parent / "src" / "civiclake" / "demo" / "datasets.yaml"
    found = airflow.probe("dagbag", extra_env={"CIVICLAKE__REGISTRY__PATH": str(demo_registry)})
    assert found["import_errors"] == {}
    assert set(found["dags"]) == DAG_IDS
