"""The DAG factory: every civiclake DAG is built here from the dataset registry.

- ``<family>_sync`` (datagouv, shopstream, olist, incidents): a ``plan`` task picks the registered datasets due in
  this run, then one mapped ``sync`` task per dataset runs ``civiclake sync``; a failed dataset fails its own task
  only. Each sync emits the asset of its family's bronze tables.
- ``warehouse_build``: scheduled on those assets; dbt source freshness, then the build, then the tests.
- ``lake_maintenance``: Iceberg compaction, snapshot expiry and orphan-file removal.

Building a DAG reads the registry and nothing else: no Variable, connection or network at parse time (the
image, namespace, service account and pod templates are Jinja templates over Airflow Variables, resolved when a
task runs).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Asset, AssetAny, task
from kubernetes.client import models as k8s

from civiclake_dags import commands, schedules
from civiclake_dags.alerts import WebhookFailureNotifier
from civiclake_dags.operators import POD_SECURITY_CONTEXT, CivicLakeCommandOperator, container_security_context
from civiclake_dags.registry import load_registry

OWNER = "civiclake"
START_DATE = datetime(2025, 1, 1, tzinfo=UTC)
VERSION = "0.1.0"
DEFAULT_IMAGES = {"ingest": f"ghcr.io/civiclake/ingest:{VERSION}", "dbt": f"ghcr.io/civiclake/dbt:{VERSION}"}
# Pools (dags/pools.json): concurrent downloads per source host, and one warehouse writer at a time (dbt and the
# maintenance rewrite the same tables).
WAREHOUSE_POOL = "civiclake_warehouse"
# KubernetesPodOperator waits this long for a pod to start: pulling an image on a fresh node takes a while.
POD_STARTUP_TIMEOUT_SECONDS = 600


def has_entries(family: str, section: dict[str, Any] | None) -> bool:
    """A section present in the registry; for datagouv (always present), at least one dataset or search."""
    if section is None:
        return False
    return family != "datagouv" or bool(section["datasets"] or section["searches"])


def sync_pool(family: str) -> str:
    return f"civiclake_{family}"


def bronze_asset(family: str) -> Asset:
    """The bronze tables of one source family (``bronze.<source>__*``), as one Airflow asset."""
    source = commands.FAMILY_SOURCES[family]
    return Asset(name=f"civiclake.bronze.{family}", uri=f"civiclake://bronze/{source}", group="civiclake")


WAREHOUSE_ASSET = Asset(name="civiclake.warehouse", uri="civiclake://warehouse/gold", group="civiclake")


def default_args(registry: dict[str, Any], timeout_minutes: int) -> dict[str, Any]:
    orchestration = registry["orchestration"]
    return {
        "owner": OWNER,
        "retries": orchestration["retries"],
        "retry_delay": timedelta(seconds=orchestration["retry_delay_seconds"]),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(seconds=orchestration["max_retry_delay_seconds"]),
        "execution_timeout": timedelta(minutes=timeout_minutes),
        "on_failure_callback": WebhookFailureNotifier(orchestration["alert_connection_id"]),
    }


def pod_arguments(task_kind: str, section: dict[str, Any] | None = None) -> dict[str, Any]:
    """KubernetesPodOperator settings shared by every task of a kind (``ingest`` or ``dbt``)."""
    kind = task_kind.upper()
    section = section or {}
    arguments: dict[str, Any] = {
        "task_kind": task_kind,
        "image": f"{{{{ var.value.get('CIVICLAKE_{kind}_IMAGE', '{DEFAULT_IMAGES[task_kind]}') }}}}",
        "namespace": "{{ var.value.get('CIVICLAKE_NAMESPACE', '') }}",
        "service_account_name": "{{ var.value.get('CIVICLAKE_SERVICE_ACCOUNT', '') }}",
        "pod_template_file": f"{{{{ var.value.get('CIVICLAKE_POD_TEMPLATE_{kind}', '') }}}}",
        "cmds": [commands.EXECUTABLE],
        "base_container_name": "base",
        "security_context": POD_SECURITY_CONTEXT,
        "container_security_context": container_security_context(),
        "xcom_sidecar_container_security_context": container_security_context(),
        "do_xcom_push": True,
        "get_logs": True,
        "log_events_on_failure": True,
        # Failed pods stay for `kubectl logs`/`describe`; the chart's activeDeadlineSeconds bounds them.
        "on_finish_action": "delete_succeeded_pod",
        "startup_timeout_seconds": POD_STARTUP_TIMEOUT_SECONDS,
    }
    if section.get("resources"):
        arguments["container_resources"] = k8s.V1ResourceRequirements(
            requests=section["resources"]["requests"] or None, limits=section["resources"]["limits"] or None
        )
    if section.get("env_secret"):
        # Credentials of the source: a Secret whose keys are civiclake setting variables.
        arguments["env_from"] = [k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=section["env_secret"]))]
    return arguments


def _dag_arguments(
    dag_id: str, schedule: Any, tags: list[str], registry: dict[str, Any], timeout: int
) -> dict[str, Any]:
    return {
        "dag_id": dag_id,
        "schedule": schedule,
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": 1,
        "tags": ["civiclake", *tags],
        "default_args": default_args(registry, timeout),
        "doc_md": __doc__,
    }


def sync_dag(family: str) -> DAG | None:
    """The ``<family>_sync`` DAG, or None when the registry has nothing for that family to sync."""
    registry = load_registry()
    section = registry.get(family)
    if section is None or not has_entries(family, section):
        return None
    dag_id = f"{family}_sync"
    dag_schedule = commands.family_schedule(family, registry)
    asset = bronze_asset(family)
    source = commands.FAMILY_SOURCES[family]
    with DAG(
        **_dag_arguments(dag_id, dag_schedule, ["ingest", family, source], registry, section["timeout_minutes"])
    ) as dag:

        @task(task_id="plan", retries=0, execution_timeout=timedelta(minutes=5))
        def plan(**context: Any) -> list[dict[str, Any]]:
            """The datasets this run syncs: all of them when started by hand, else those whose schedule fired."""
            current = load_registry()
            steps = commands.sync_steps(family, current)
            if str(context["dag_run"].run_type) in ("scheduled", "DagRunType.SCHEDULED"):
                tick = context["logical_date"]
                due = commands.entry_schedules(family, current)
                steps = [
                    step
                    for step, schedule in zip(steps, due, strict=True)
                    if schedules.is_due(schedule, dag_schedule, tick)
                ]
            return [step.expand_kwargs(dag_id) for step in steps]

        # A source host sees at most max_active_syncs of this DAG's syncs at once, however many datasets are
        # mapped; the pool bounds them across DAG runs and DAGs that reach the same host.
        CivicLakeCommandOperator.partial(
            task_id="sync",
            pool=sync_pool(family),
            max_active_tis_per_dag=section["max_active_syncs"],
            outlets=[asset],
            map_index_template="{{ task.labels['civiclake.io/step'] }}",
            **pod_arguments("ingest", section),
        ).expand_kwargs(plan())
    return dag


def _chain(dag_id: str, steps: list[commands.Step], task_kind: str, options: dict[str, dict[str, Any]]) -> None:
    previous = None
    for step in steps:
        operator = CivicLakeCommandOperator(
            task_id=step.key.replace("-", "_"),
            pool=WAREHOUSE_POOL,
            **step.expand_kwargs(dag_id),
            **pod_arguments(task_kind),
            **options.get(step.key, {}),
        )
        if previous is not None:
            previous >> operator
        previous = operator


def warehouse_dag() -> DAG:
    """dbt on the bronze tables, each time a family's bronze tables change."""
    registry = load_registry()
    families = [family for family in commands.SYNC_FAMILIES if has_entries(family, registry.get(family))]
    assets = [bronze_asset(family) for family in families]
    # Nothing registered: no asset to wait for, the DAG runs only when started by hand.
    schedule: Any = AssetAny(*assets) if len(assets) > 1 else (assets or None)
    arguments = _dag_arguments(
        "warehouse_build", schedule, ["dbt", "transform"], registry, registry["warehouse"]["timeout_minutes"]
    )
    with DAG(**arguments) as dag:
        _chain(
            "warehouse_build",
            commands.warehouse_steps(registry),
            "dbt",
            {
                # A stale source fails the freshness task (and sends its alert), but the build still runs on what
                # is there; retrying a freshness check only repeats its answer.
                "freshness": {"retries": 0},
                "build": {"outlets": [WAREHOUSE_ASSET], "trigger_rule": "all_done"},
            },
        )
    return dag


def maintenance_dag() -> DAG:
    """Iceberg upkeep through the engine of the active profile (pyiceberg locally, Trino on the cluster)."""
    registry = load_registry()
    settings = registry["maintenance"]
    arguments = _dag_arguments(
        "lake_maintenance", settings["schedule"], ["maintenance", "iceberg"], registry, settings["timeout_minutes"]
    )
    with DAG(**arguments) as dag:
        _chain("lake_maintenance", commands.maintenance_steps(registry), "dbt", {})
    return dag
