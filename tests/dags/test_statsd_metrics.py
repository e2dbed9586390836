"""Airflow's own StatsD packets, captured from real Airflow and put through the real statsd_exporter with
civiclake's mapping: the series the Airflow board and its variables read exist, with the labels they filter on.

Real Airflow sends: a DAG processor parsing the DAGs once (import errors), `airflow dags test` of datagouv_sync in
local mode with one dataset the mirror answers 410 (a task that succeeds, one that fails), then the scheduler with
a run of that DAG queued (heartbeats, executor and pool gauges, and the run's duration when it finishes: no API
server runs, so its tasks cannot start and the scheduler fails the run). A UDP socket of the test receives it all.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from civiclake.demo.mirror.server import MirrorServer
from civiclake.servers.process import start_process, stop_process, tail_of, wait_until
from tests.dags.conftest import DAGS, REPO, make_runner
from tests.dags.test_local_mode_end_to_end import GARES_AND_A_DELETED_DATASET, local_mode
from tests.observability.boards import metric_names, panel_queries, variable_queries
from tests.observability.test_end_to_end import AIRFLOW_LINES
from tests.servers.statsd_exporter import running_statsd_exporter, send_and_settle

pytestmark = pytest.mark.integration

MAPPING = REPO / "src" / "civiclake" / "observability" / "airflow-statsd-mapping.yaml"
AIRFLOW_BOARD = REPO / "charts" / "civiclake" / "dashboards" / "civiclake-airflow.json"
DAG_ID = "datagouv_sync"
EXPORTER_OWN = ("statsd_exporter_", "statsd_metric_mapper_", "go_", "process_", "promhttp_")


class StatsdCapture:
    """A UDP socket on a free port of 127.0.0.1 keeping every datagram it receives."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.port = int(self.socket.getsockname()[1])
        self.datagrams: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                self.datagrams.append(self.socket.recv(65535))
            except TimeoutError:
                continue

    def names(self) -> set[str]:
        return {line.split(":", 1)[0] for line in self.lines()}

    def lines(self) -> list[str]:
        return [line for datagram in list(self.datagrams) for line in datagram.decode().splitlines() if line]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.socket.close()


@pytest.fixture(scope="module")
def captured(airflow_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StatsdCapture]:
    base = tmp_path_factory.mktemp("statsd")
    capture = StatsdCapture()
    airflow = make_runner(base)
    airflow.env.update(
        {
            "AIRFLOW__METRICS__STATSD_ON": "True",
            "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
            "AIRFLOW__METRICS__STATSD_PORT": str(capture.port),
        }
    )
    registry = base / "datasets.yaml"
    registry.write_text(GARES_AND_A_DELETED_DATASET)
    try:
        with MirrorServer() as mirror:
            local_mode(airflow, mirror, base, registry)
            parsed = airflow.airflow("dag-processor", "--num-runs", "1", timeout=300)
            assert parsed.returncode == 0, parsed.stdout[-3000:] + parsed.stderr[-3000:]
            tested = airflow.airflow("dags", "test", DAG_ID, timeout=600)
            assert tested.returncode != 0, "one dataset of the run fails"
            for command in (("dags", "unpause", DAG_ID), ("dags", "trigger", DAG_ID)):
                done = airflow.airflow(*command)
                assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
            log_file = base / "scheduler.log"
            scheduler = start_process(
                [str(airflow_venv / "bin" / "airflow"), "scheduler"], log_file=log_file, env=airflow.env, cwd=base
            )
            try:
                wait_until(
                    lambda: (
                        any(name.startswith(f"airflow.dagrun.duration.failed.{DAG_ID}") for name in capture.names())
                        and "airflow.scheduler_heartbeat" in capture.names()
                    ),
                    240,
                    "the scheduler's metrics",
                    lambda: tail_of(log_file) + "\nreceived: " + ", ".join(sorted(capture.names())),
                    interval=1,
                )
            finally:
                stop_process(scheduler)
        (base / "statsd-lines.txt").write_text("\n".join(capture.lines()) + "\n")  # for a reader of a failure
        yield capture
    finally:
        capture.close()


def mapping_rules() -> list[dict]:
    return [rule for rule in yaml.safe_load(MAPPING.read_text())["mappings"] if rule.get("action") != "drop"]


def glob_pattern(match: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(match).replace(r"\*", "[^.]+") + "$")


def test_real_airflow_sends_a_line_for_every_rule_of_the_mapping(captured: StatsdCapture) -> None:
    names = captured.names()
    unmatched = [
        rule["match"] for rule in mapping_rules() if not any(glob_pattern(rule["match"]).match(n) for n in names)
    ]
    assert not unmatched, f"mapping rules no real Airflow line matches: {unmatched}\nsent: {sorted(names)}"


def test_real_airflow_lines_through_statsd_exporter_give_every_airflow_series_the_board_reads(
    captured: StatsdCapture, tmp_path: Path
) -> None:
    with running_statsd_exporter(tmp_path / "exporter", MAPPING) as exporter:
        send_and_settle(exporter, list(captured.datagrams))
        text = exporter.metrics()
        unmapped = exporter.sample("statsd_exporter_events_unmapped_total")
        exporter_log = tail_of(exporter.log_file)
    samples = [sample for family in text_string_to_metric_families(text) for sample in family.samples]
    exported = {sample.name for sample in samples if not sample.name.startswith(EXPORTER_OWN)}
    assert unmapped == 0
    # Only the mapping's names reach Prometheus: the rest of what Airflow sends is dropped, not renamed.
    mapped = {rule["name"] for rule in mapping_rules()}
    histogram_parts = {f"{name}_{part}" for name in mapped for part in ("bucket", "sum", "count")}
    assert exported <= mapped | histogram_parts, exported - mapped - histogram_parts

    board = {name for _, _, expr in panel_queries(AIRFLOW_BOARD) for name in metric_names(expr)}
    board |= {name for expr in variable_queries(AIRFLOW_BOARD) for name in metric_names(expr)}
    sent = "\n".join(line for line in captured.lines() if line.startswith("airflow.dagrun.duration"))
    assert board and board <= exported, (
        f"board series nothing exports: {board - exported}\nsent: {sent}\n"
        + "\n".join(line for line in text.splitlines() if "statsd_exporter_events" in line)
        + f"\n{exporter_log}"
    )

    def value(name: str, **labels: str) -> float:
        found = [s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
        assert found, f"no {name}{labels} in the exporter's output"
        return sum(found)

    assert value("airflow_task_finished_total", dag_id=DAG_ID, task_id="plan", state="success") >= 1
    assert value("airflow_task_finished_total", dag_id=DAG_ID, task_id="sync", state="success") >= 1
    assert value("airflow_task_finished_total", dag_id=DAG_ID, task_id="sync", state="failed") >= 1
    assert value("airflow_dagrun_duration_seconds_count", dag_id=DAG_ID, state="failed") >= 1
    assert value("airflow_scheduler_heartbeat_total") >= 1
    assert value("airflow_dag_import_errors") == 0
    pools = {s.labels["pool"] for s in samples if s.name == "airflow_pool_open_slots"}
    assert pools == {"default_pool", *yaml.safe_load((DAGS / "pools.json").read_text())}


def rule_and_type(line: str) -> tuple[str, str]:
    """The mapping rule a StatsD line falls under (its match, or "dropped"), and the line's StatsD type."""
    name, _, rest = line.partition(":")
    kind = rest.split("|")[1]
    for rule in mapping_rules():
        if glob_pattern(rule["match"]).match(name):
            return rule["match"], kind
    return "dropped", kind


def test_the_observability_tests_airflow_lines_are_shaped_as_real_airflow_sends_them(captured: StatsdCapture) -> None:
    real = {rule_and_type(line) for line in captured.lines()}
    unlike = [line for line in AIRFLOW_LINES if rule_and_type(line) not in real]
    assert not unlike, f"lines no real Airflow line resembles (same mapping rule and StatsD type): {unlike}"
