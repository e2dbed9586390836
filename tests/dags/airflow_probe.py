"""Run by the Airflow virtualenv's Python (not by pytest): loads the real DAGs and prints what the tests check.

    .venv-airflow/bin/python tests/dags/airflow_probe.py dagbag   -> JSON: import errors, DAGs, their tasks
    .venv-airflow/bin/python tests/dags/airflow_probe.py pods     -> JSON: the pod of every task, as built by
                                                                    KubernetesPodOperator.build_pod_request_obj
    ... airflow_probe.py registry-errors FILE.json                 -> JSON: {name: error or null} for each YAML
                                                                    text of FILE ({name: text}), parsed as the DAGs do
    ... airflow_probe.py plan "DAG_ID|RUN_TYPE|TICK" ...          -> JSON: the `plan` task's output for those runs
    ... airflow_probe.py local-run SPEC.json                       -> JSON: what the local mode of the operator did
                                                                    with each case of SPEC ({name: {arguments, env}})
    ... airflow_probe.py webhook-urls CONN_ID ...                   -> JSON: the alert URL of each connection

The environment (AIRFLOW_HOME, KUBECONFIG, AIRFLOW_VAR_*, the registry) is set by the caller (tests/dags).
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

DAGS = Path(__file__).resolve().parents[2] / "dags"
# The probe imports the factory package itself too (Airflow adds the folder only while it fills a DagBag).
sys.path.append(str(DAGS))


def load_bag(folder: Path = DAGS) -> Any:
    from airflow.dag_processing.dagbag import BundleDagBag

    return BundleDagBag(str(folder), bundle_path=folder)


class ParseTimeIOError(RuntimeError):
    """Raised by the guards below: a DAG file touched the network or the metadata database while parsed."""


def forbid_io() -> None:
    """Make any socket connection or database connection fail, so a DAG file that does I/O at parse time shows
    up as an import error."""
    import socket

    import sqlalchemy.engine

    def refuse(*_: Any, **__: Any) -> Any:
        raise ParseTimeIOError("network or database access while parsing DAG files")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse  # type: ignore[assignment]
    socket.getaddrinfo = refuse  # type: ignore[assignment]
    sqlalchemy.engine.Engine.connect = refuse  # type: ignore[method-assign]
    sqlalchemy.engine.Engine.raw_connection = refuse  # type: ignore[method-assign]


def seconds(value: Any) -> float | None:
    return value.total_seconds() if isinstance(value, timedelta) else value


def describe_task(task: Any) -> dict[str, Any]:
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    mapped = isinstance(task, MappedOperator)
    arguments = task.partial_kwargs if mapped else task.__dict__
    callbacks = arguments.get("on_failure_callback") or []
    callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
    return {
        "task_id": task.task_id,
        "operator": task.operator_class.__name__ if mapped else type(task).__name__,
        "mapped": mapped,
        "owner": task.owner,
        "retries": task.retries,
        "retry_delay": seconds(task.retry_delay),
        "retry_exponential_backoff": task.retry_exponential_backoff,
        "max_retry_delay": seconds(task.max_retry_delay),
        "execution_timeout": seconds(task.execution_timeout),
        "pool": task.pool,
        "max_active_tis_per_dag": task.max_active_tis_per_dag,
        "outlets": [asset.uri for asset in task.outlets],
        "on_failure_callback": [type(callback).__name__ for callback in callbacks],
        "upstream": sorted(task.upstream_task_ids),
    }


def dagbag(*options: str) -> dict[str, Any]:
    folder = Path(options[-1]) if options and not options[-1].startswith("--") else DAGS
    bag = load_bag(folder) if "--forbid-io" not in options else None
    if bag is None:
        import airflow.dag_processing.dagbag  # noqa: F401  (Airflow's own start-up may use the network freely)

        forbid_io()
        bag = load_bag(folder)
    dags = {}
    for dag_id, dag in bag.dags.items():
        dags[dag_id] = {
            "fileloc": dag.fileloc,
            "schedule": dag.schedule if isinstance(dag.schedule, str) else repr(dag.schedule),
            "timetable": type(dag.timetable).__name__,
            "schedule_assets": sorted(asset.uri for asset in _assets(dag)),
            "catchup": dag.catchup,
            "max_active_runs": dag.max_active_runs,
            "tags": sorted(dag.tags),
            "owner": dag.owner,
            "tasks": [describe_task(task) for task in dag.tasks],
        }
    warnings = {path: list(messages) for path, messages in bag.captured_warnings.items()}
    return {"import_errors": bag.import_errors, "warnings": warnings, "dags": dags}


def _assets(dag: Any) -> list[Any]:
    """The assets a DAG is scheduled on (leaves of its asset condition)."""

    def leaves(condition: Any) -> list[Any]:
        if hasattr(condition, "objects"):
            return [leaf for item in condition.objects for leaf in leaves(item)]
        return [condition] if hasattr(condition, "uri") else []

    return leaves(getattr(dag.timetable, "asset_condition", None))


def concrete_operators(dag: Any, registry: dict[str, Any]) -> list[tuple[Any, int]]:
    """Every operator of a DAG as it would run: mapped tasks unmapped once per planned dataset."""
    from airflow.sdk.definitions.mappedoperator import MappedOperator
    from civiclake_dags import commands

    found = []
    for task in dag.tasks:
        if isinstance(task, MappedOperator):
            family = dag.dag_id.removesuffix("_sync")
            for index, step in enumerate(commands.sync_steps(family, registry)):
                found.append((task.unmap(step.expand_kwargs(dag.dag_id)), index))
        elif task.task_id != "plan":
            found.append((task, -1))
    return found


def pods() -> dict[str, Any]:
    from airflow.sdk.execution_time.context import VariableAccessor
    from civiclake_dags.operators import CivicLakeCommandOperator
    from civiclake_dags.registry import load_registry
    from kubernetes.client import ApiClient

    registry = load_registry()
    serializer = ApiClient()
    built: dict[str, Any] = {}
    for dag_id, dag in load_bag().dags.items():
        for operator, map_index in concrete_operators(dag, registry):
            assert isinstance(operator, CivicLakeCommandOperator), operator
            ti = SimpleNamespace(dag_id=dag_id, task_id=operator.task_id, map_index=map_index, try_number=1)
            context = {
                "ti": ti,
                "run_id": "manual__2026-01-01T00:00:00+00:00",
                "dag": dag,
                "task": operator,
                "var": {
                    "value": VariableAccessor(deserialize_json=False),
                    "json": VariableAccessor(deserialize_json=True),
                },
            }
            operator.render_template_fields(context)
            pod = operator.build_pod_request_obj(context, dry_run=True)
            key = f"{dag_id}.{operator.task_id}" + (f"[{map_index}]" if map_index >= 0 else "")
            built[key] = {"pod": serializer.sanitize_for_serialization(pod), "local_argv": operator.local_argv()}
    return built


def registry_errors(path: str) -> dict[str, str | None]:
    from civiclake_dags.registry import RegistryError, parse_registry

    found: dict[str, str | None] = {}
    for name, text in json.loads(Path(path).read_text()).items():
        try:
            parse_registry(text, name)
            found[name] = None
        except RegistryError as error:
            found[name] = str(error)
    return found


def plan(*requests: str) -> dict[str, Any]:
    """The `plan` task's output for each DAG_ID:RUN_TYPE:TICK request (one DagBag for all of them)."""
    from datetime import datetime

    dags = load_bag().dags
    found = {}
    for request in requests:
        dag_id, run_type, tick = request.split("|")
        callable_ = dags[dag_id].get_task("plan").python_callable
        found[request] = callable_(
            dag_run=SimpleNamespace(run_type=run_type), logical_date=datetime.fromisoformat(tick)
        )
    return found


def local_run(path: str) -> dict[str, Any]:
    """Run the operator's local mode on each case; the command's output goes to this process's log (stdout)."""
    from civiclake_dags.operators import CivicLakeCommandOperator, execution_mode

    found: dict[str, Any] = {}
    for name, case in json.loads(Path(path).read_text()).items():
        operator = CivicLakeCommandOperator(
            task_id=f"probe_{name}", cmds=["civiclake"], arguments=case["arguments"], env_vars=case.get("env", {})
        )
        try:
            found[name] = {"result": operator._run_locally(), "error": None}
        except Exception as error:
            found[name] = {"result": None, "error": f"{type(error).__name__}: {error}"}
    try:
        found["mode"] = {"result": execution_mode(), "error": None}
    except Exception as error:
        found["mode"] = {"result": None, "error": f"{type(error).__name__}: {error}"}
    template_check = CivicLakeCommandOperator(task_id="probe_template", task_kind="dbt", pod_template_file="")
    try:
        template_check._check_pod_template()
        found["pod-template"] = {"error": None}
    except Exception as error:
        found["pod-template"] = {"error": f"{type(error).__name__}: {error}"}
    return found


def webhook_urls(*connection_ids: str) -> dict[str, str]:
    """The URL each Airflow connection (defined by AIRFLOW_CONN_* variables) gives the failure alerts."""
    from airflow.sdk import BaseHook
    from civiclake_dags.alerts import webhook_url

    found = {}
    for connection_id in connection_ids:
        try:
            found[connection_id] = webhook_url(BaseHook.get_connection(connection_id))
        except Exception as error:
            found[connection_id] = f"{type(error).__name__}: {error}"
    return found


def main() -> None:
    command, arguments = sys.argv[1], sys.argv[2:]
    commands = {
        "dagbag": dagbag,
        "pods": pods,
        "registry-errors": registry_errors,
        "plan": plan,
        "local-run": local_run,
        "webhook-urls": webhook_urls,
    }
    result = commands[command](*arguments)
    sys.stdout.write("\n=====PROBE-JSON=====\n" + json.dumps(result, default=str) + "\n")


if __name__ == "__main__":
    main()
