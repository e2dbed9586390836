"""The real DAGs, run by Airflow in ``local`` execution mode on the local profile: `airflow dags test` syncs the
bundled data.gouv.fr mirror into bronze, then builds silver and gold with dbt. Same DAGs, same command lines as
on the cluster; only the place the command runs differs (a subprocess instead of a pod)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from civiclake.demo.mirror.server import MirrorServer
from tests.dags.conftest import DAGS, REPO, AirflowRunner

DEMO_REGISTRY = REPO / "src" / "civiclake" / "demo" / "datasets.yaml"
CIVICLAKE = REPO / ".venv" / "bin" / "civiclake"
DELETED_DATASET = "542d130caaa9942b00d06dd4"  # answered 410 Gone by the mirror


# One dataset that loads and one the API answers 410 for; no retries (their delays are not under test).
GARES_AND_A_DELETED_DATASET = (
    "datagouv:\n"
    "  datasets:\n"
    "    - id: 581c510f9f9d1d436acab664\n"
    "      name: gares\n"
    f"    - id: {DELETED_DATASET}\n"
    "      name: deleted\n"
    "orchestration:\n"
    "  retries: 0\n"
)


def local_mode(airflow: AirflowRunner, mirror: MirrorServer, tmp_path: Path, registry: Path) -> dict[str, str]:
    """Environment of a local-mode lakehouse; applied to the runner and returned for direct civiclake calls."""
    airflow.env.update(
        {
            "CIVICLAKE_EXECUTION_MODE": "local",
            "CIVICLAKE_EXECUTABLE": str(CIVICLAKE),
            "CIVICLAKE_HOME": str(tmp_path / "lakehouse"),
            "CIVICLAKE_SECRETS_DIR": str(tmp_path / "no-secrets"),
            "CIVICLAKE__DATAGOUV__API_URL": mirror.api_url,
            "CIVICLAKE__REGISTRY__PATH": str(registry),
        }
    )
    migrate = airflow.airflow("db", "migrate")
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    pools = airflow.airflow("pools", "import", str(DAGS / "pools.json"))
    assert pools.returncode == 0 and "Uploaded 5 pool(s)" in pools.stdout, pools.stdout + pools.stderr
    return airflow.env


def task_states(airflow: AirflowRunner, dag_id: str) -> dict[tuple[str, int], tuple[str, str | None]]:
    with sqlite3.connect(airflow.home / "airflow.db") as database:
        rows = database.execute(
            "SELECT task_id, map_index, state, rendered_map_index FROM task_instance WHERE dag_id = ?", (dag_id,)
        ).fetchall()
    return {(task_id, map_index): (state, label) for task_id, map_index, state, label in rows}


def civiclake_tables(airflow: AirflowRunner) -> dict[str, int]:
    listed = airflow.run([str(CIVICLAKE), "tables", "--json"])
    assert listed.returncode == 0, listed.stderr
    return {table["name"]: table["rows"] for table in json.loads(listed.stdout)}


@pytest.mark.integration
def test_datagouv_sync_then_warehouse_build_in_local_mode(
    airflow: AirflowRunner, mirror: MirrorServer, tmp_path: Path, record_property: Any
) -> None:
    started = time.monotonic()
    local_mode(airflow, mirror, tmp_path, DEMO_REGISTRY)

    synced = airflow.airflow("dags", "test", "datagouv_sync", timeout=600)
    assert synced.returncode == 0, synced.stdout[-6000:] + synced.stderr[-3000:]
    sync_seconds = time.monotonic() - started
    states = task_states(airflow, "datagouv_sync")
    assert states[("plan", -1)] == ("success", None)
    labels = {label for (task_id, _), (state, label) in states.items() if task_id == "sync" and state == "success"}
    assert labels == {
        "codes_postaux",
        "gares",
        "frequentation_gares",
        "accidents",
        "irve_eure_et_loir",
        "base_adresse_nationale",
    }

    with sqlite3.connect(airflow.home / "airflow.db") as database:
        summaries = [
            json.loads(value) for (value,) in database.execute("SELECT value FROM xcom WHERE task_id = 'sync'")
        ]
        events = [json.loads(extra) for (extra,) in database.execute("SELECT extra FROM asset_event")]
    # The command's JSON summary is the task's XCom, and the extra of the bronze asset event it emits.
    assert sum(summary["rows"] for summary in summaries) > 100_000
    assert {summary["status"] for summary in summaries} == {"success"}
    gares = next(event for event in events if event.get("tables") == ["bronze.datagouv__gares__liste_des_gares"])
    assert gares["rows"] == 3819 and gares["status"] == "success"

    bronze = civiclake_tables(airflow)
    assert bronze["bronze.datagouv__codes_postaux__base_officielle_des_codes_postaux"] > 0
    assert bronze["bronze.datagouv__gares__liste_des_gares"] == 3819

    built = airflow.airflow("dags", "test", "warehouse_build", timeout=900)
    assert built.returncode == 0, built.stdout[-6000:] + built.stderr[-3000:]
    assert {key: state for key, (state, _) in task_states(airflow, "warehouse_build").items()} == {
        ("freshness", -1): "success",
        ("build", -1): "success",
        ("test", -1): "success",
    }
    assert "START freshness of" in built.stdout + built.stderr
    tables = civiclake_tables(airflow)
    gold = {name: rows for name, rows in tables.items() if name.startswith("gold.")}
    assert {"gold.dim_station", "gold.fct_station_ridership", "gold.mart_dataset_sync_status"} <= set(gold)
    assert gold["gold.dim_station"] > 0 and gold["gold.fct_station_ridership"] > 0
    total = time.monotonic() - started
    record_property("datagouv_sync_seconds", round(sync_seconds, 1))
    record_property("end_to_end_seconds", round(total, 1))
    print(f"\nlocal mode end to end: datagouv_sync {sync_seconds:.1f} s, with warehouse_build {total:.1f} s")


class _Webhook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Handler", (_Webhook,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/civiclake", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.integration
def test_a_failed_dataset_fails_its_own_task_and_posts_an_alert(
    airflow: AirflowRunner, mirror: MirrorServer, tmp_path: Path, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = webhook
    registry = tmp_path / "datasets.yaml"
    registry.write_text(GARES_AND_A_DELETED_DATASET)
    local_mode(airflow, mirror, tmp_path, registry)
    # The webhook URL lives in an Airflow connection, here given as an environment variable.
    airflow.env["AIRFLOW_CONN_CIVICLAKE_ALERTS"] = json.dumps({"conn_type": "http", "host": url})

    run = airflow.airflow("dags", "test", "datagouv_sync", timeout=600)
    assert run.returncode != 0, "the run fails when one dataset fails"
    states = task_states(airflow, "datagouv_sync")
    assert states[("sync", 0)] == ("success", "gares")
    assert states[("sync", 1)] == ("failed", "deleted")
    assert civiclake_tables(airflow)["bronze.datagouv__gares__liste_des_gares"] == 3819

    (alert,) = received
    assert (alert["dag_id"], alert["task_id"], alert["map_index"]) == ("datagouv_sync", "sync", 1)
    assert "exited with code 1" in alert["error"] and alert["text"].startswith(
        "civiclake: datagouv_sync.sync[1] failed"
    )
