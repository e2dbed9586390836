"""The command lines the DAGs run, built from the registry: the same argv in a pod and in a local subprocess.

Each task runs ``civiclake ...``: ``sync`` in the ingest image; ``source-freshness``, ``transform`` (dbt) and
``maintain`` (Iceberg upkeep through the warehouse engine) in the dbt image. Nothing here imports Airflow, so the
plans can be checked on their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from civiclake_dags import schedules

EXECUTABLE = "civiclake"
# Where `civiclake` writes its JSON summary (rows, status): the KubernetesPodOperator xcom file in a pod.
SUMMARY_VARIABLE = "CIVICLAKE_SUMMARY_JSON"
POD_SUMMARY_PATH = "/airflow/xcom/return.json"

# Source family (DAG) -> civiclake source (`civiclake sync --source`).
FAMILY_SOURCES = {"datagouv": "datagouv", "shopstream": "postgres", "olist": "files", "incidents": "rest"}
SYNC_FAMILIES = tuple(FAMILY_SOURCES)


@dataclass(frozen=True)
class Step:
    """One run of ``civiclake``: its arguments, extra environment and pod labels."""

    key: str  # short name: the mapped task's label and the pod name's tail
    arguments: list[str]
    env: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    def expand_kwargs(self, dag_id: str) -> dict[str, Any]:
        """What one mapped KubernetesPodOperator instance receives (``.expand_kwargs``)."""
        return {
            "arguments": self.arguments,
            "env_vars": {SUMMARY_VARIABLE: POD_SUMMARY_PATH, **self.env},
            "labels": {**self.labels, "civiclake.io/step": label_value(self.key)},
            "name": pod_name(dag_id, self.key),
        }


def label_value(text: str) -> str:
    """A valid Kubernetes label value: at most 63 of [A-Za-z0-9_.-], starting and ending alphanumeric."""
    value = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:63]
    return value.strip("-_.") or "none"


def pod_name(dag_id: str, key: str) -> str:
    """A DNS-1123 pod name prefix (KubernetesPodOperator appends a random suffix)."""
    name = re.sub(r"[^a-z0-9-]+", "-", f"{dag_id}-{key}".lower()).strip("-")
    return name[:50].rstrip("-") or "civiclake-task"


def sync_steps(family: str, registry: dict[str, Any]) -> list[Step]:
    """Every sync a family's DAG can run, one per registered dataset (or one for the whole source)."""
    source = FAMILY_SOURCES[family]
    base = ["sync", "--source", source]
    labels = {"civiclake.io/source": source, "civiclake.io/family": family}
    section = registry.get(family) or {}
    if family == "datagouv":
        steps = []
        for dataset in section.get("datasets", []):
            key = dataset.get("name") or dataset["id"]
            steps.append(
                Step(
                    key,
                    [*base, "--dataset", dataset["id"]],
                    labels={**labels, "civiclake.io/dataset": label_value(key)},
                )
            )
        for index, search in enumerate(section.get("searches", [])):
            arguments = list(base)
            if search.get("query"):
                arguments += ["--query", search["query"]]
            if search.get("organization"):
                arguments += ["--organization", search["organization"]]
            for tag in search.get("tags", []):
                arguments += ["--tag", tag]
            key = f"search-{index}-{search.get('query') or search.get('organization') or '-'.join(search['tags'])}"
            steps.append(Step(key, arguments, labels=dict(labels)))
        return steps
    if family == "shopstream" and section.get("tables"):
        # One task per table: the postgres source reads its table list from CIVICLAKE__POSTGRES__TABLES.
        return [
            Step(
                table,
                list(base),
                env={"CIVICLAKE__POSTGRES__TABLES": table},
                labels={**labels, "civiclake.io/dataset": label_value(table)},
            )
            for table in section["tables"]
        ]
    return [Step(family, list(base), labels=dict(labels))]


def entry_schedules(family: str, registry: dict[str, Any]) -> list[str]:
    """The schedule of each sync step of a family, in the order of ``sync_steps``."""
    section = registry.get(family) or {}
    if family != "datagouv":
        return [section["schedule"]] * len(sync_steps(family, registry))
    own = [schedules.dataset_schedule(dataset) for dataset in section.get("datasets", [])]
    dag_schedule = family_schedule(family, registry)
    return own + [search.get("schedule") or dag_schedule for search in section.get("searches", [])]


def family_schedule(family: str, registry: dict[str, Any]) -> str:
    section = registry.get(family) or {}
    if section.get("schedule"):
        return str(section["schedule"])
    datasets = section.get("datasets", [])
    return schedules.most_frequent([schedules.dataset_schedule(dataset) for dataset in datasets])


def transform_step(key: str, dbt_arguments: list[str]) -> Step:
    """``civiclake transform``: dbt build on the active profile (DuckDB views and Iceberg publication locally,
    Trino on the cluster); ``dbt_arguments`` are appended to ``dbt build``."""
    return Step(key, ["transform", *(["--", *dbt_arguments] if dbt_arguments else [])])


def warehouse_steps(registry: dict[str, Any]) -> list[Step]:
    """Freshness of the bronze sources, the build (models with their tests; only tested tables are published),
    then every test again on what was published."""
    models = registry["warehouse"]["select"]
    select = ["--select", *models] if models else []
    return [
        Step("freshness", ["source-freshness"]),
        transform_step("build", select),
        transform_step("test", [*select, "--resource-type", "test", "--resource-type", "unit_test"]),
    ]


def maintenance_steps(registry: dict[str, Any]) -> list[Step]:
    """The query audit's load first (it applies its own retention to meta.query_audit), then compaction (its
    rewrite makes a snapshot), then snapshot expiry, then the files nothing references."""
    settings = registry["maintenance"]
    return [
        Step("audit-load", ["audit", "load"]),
        Step("compact", ["maintain", "compact"]),
        Step(
            "expire-snapshots",
            [
                "maintain",
                "expire-snapshots",
                "--older-than-days",
                str(settings["snapshot_retention_days"]),
                "--retain-last",
                str(settings["retain_last_snapshots"]),
            ],
        ),
        Step(
            "remove-orphans",
            ["maintain", "remove-orphans", "--older-than-hours", str(settings["orphan_min_age_hours"])],
        ),
    ]
