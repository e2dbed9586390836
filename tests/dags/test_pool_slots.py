"""The mapped sync tasks under Airflow's own scheduler (LocalExecutor, local execution mode): every one runs in
the family's pool, and no more of them run at once than the pool has slots, however many are mapped and however
much parallelism Airflow has. `airflow dags test` runs tasks one by one and ignores pools: this starts the real
scheduler, API server and DAG processor."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from civiclake.demo.mirror.server import MirrorServer
from civiclake.servers.process import free_tcp_port, http_status, start_process, stop_process, tail_of, wait_until
from tests.dags.conftest import AIRFLOW_VENV, AirflowRunner
from tests.dags.test_local_mode_end_to_end import local_mode

# Four small datasets of the bundled mirror; the registry lets four run at once, the pool (2 slots) only two.
FOUR_DATASETS = (
    "datagouv:\n"
    "  max_active_syncs: 4\n"
    "  datasets:\n"
    "    - id: 581c510f9f9d1d436acab664\n"
    "      name: gares\n"
    "    - id: 5ce572bf226c7f3345dfbc63\n"
    "      name: frequentation_gares\n"
    "    - id: 604f3a7237e3d1284af2d2f4\n"
    "      name: irve_eure_et_loir\n"
    "    - id: 5530fbacc751df5ff937dddb\n"
    "      name: base_adresse_nationale\n"
    "orchestration:\n"
    "  retries: 0\n"
)


@pytest.fixture
def scheduler(airflow: AirflowRunner, mirror: MirrorServer, tmp_path: Path) -> Iterator[AirflowRunner]:
    registry = tmp_path / "datasets.yaml"
    registry.write_text(FOUR_DATASETS)
    port = free_tcp_port()
    airflow.env.update(
        {
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "8",
            # The task supervisors call the execution API at this exact address: listen on it, with one worker.
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            # Only the run the test triggers: unpausing would otherwise add the latest scheduled run.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        }
    )
    local_mode(airflow, mirror, tmp_path, registry)
    processes = []
    for command in ("api-server", "scheduler", "dag-processor"):
        log = tmp_path / f"{command}.log"
        processes.append(
            (log, start_process([str(AIRFLOW_VENV / "bin" / "airflow"), command], log_file=log, env=airflow.env))
        )
    try:
        api_log = processes[0][0]
        wait_until(
            lambda: http_status(f"http://127.0.0.1:{port}/api/v2/monitor/health") == 200,
            timeout=180,
            what="the Airflow API server",
            diagnostics=lambda: tail_of(api_log, 30),
            interval=0.5,
        )
        yield airflow
    finally:
        for log, process in processes:
            stop_process(process)
            print(f"--- {log.name}\n{tail_of(log, 30)}")


def serialized(airflow: AirflowRunner, dag_id: str) -> bool:
    with sqlite3.connect(airflow.home / "airflow.db") as database:
        return database.execute("SELECT 1 FROM serialized_dag WHERE dag_id = ?", (dag_id,)).fetchone() is not None


def run_state(airflow: AirflowRunner, dag_id: str) -> str | None:
    with sqlite3.connect(airflow.home / "airflow.db") as database:
        row = database.execute(
            "SELECT state FROM dag_run WHERE dag_id = ? AND run_type = 'manual'", (dag_id,)
        ).fetchone()
    return row[0] if row else None


def most_at_once(intervals: list[tuple[datetime, datetime]]) -> int:
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = highest = 0
    for _, change in events:  # an end sorts before a start at the same instant
        running += change
        highest = max(highest, running)
    return highest


@pytest.mark.integration
def test_mapped_syncs_run_in_their_pool_and_never_more_at_once_than_its_slots(scheduler: AirflowRunner) -> None:
    airflow = scheduler
    wait_until(
        lambda: serialized(airflow, "datagouv_sync"), timeout=300, what="datagouv_sync parsed", diagnostics=lambda: ""
    )
    assert airflow.airflow("dags", "unpause", "datagouv_sync").returncode == 0
    triggered = airflow.airflow("dags", "trigger", "datagouv_sync")
    assert triggered.returncode == 0, triggered.stderr[-2000:]
    wait_until(
        lambda: run_state(airflow, "datagouv_sync") in ("success", "failed"),
        timeout=900,
        what="the datagouv_sync run",
        diagnostics=lambda: str(run_state(airflow, "datagouv_sync")),
        interval=2,
    )
    with sqlite3.connect(airflow.home / "airflow.db") as database:
        rows = database.execute(
            "SELECT map_index, state, pool, pool_slots, start_date, end_date FROM task_instance "
            "WHERE dag_id = 'datagouv_sync' AND task_id = 'sync' AND run_id IN "
            "(SELECT run_id FROM dag_run WHERE dag_id = 'datagouv_sync' AND run_type = 'manual')"
        ).fetchall()
    assert run_state(airflow, "datagouv_sync") == "success", rows
    assert sorted(row[0] for row in rows) == [0, 1, 2, 3]
    assert {(state, pool, slots) for _, state, pool, slots, _, _ in rows} == {("success", "civiclake_datagouv", 1)}
    intervals = [(datetime.fromisoformat(start), datetime.fromisoformat(end)) for *_, start, end in rows]
    assert most_at_once(intervals) <= 2, intervals
