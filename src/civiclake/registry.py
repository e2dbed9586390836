"""The dataset registry: which datasets each source syncs, and how.

A YAML file (``datasets.yaml`` by default, ``CIVICLAKE__REGISTRY__PATH`` otherwise). A typo in it is an
error that names the entry and the key, before anything is downloaded.

The Airflow DAGs (``dags/``) are generated from the same file: each source family has a schedule, and the
DAG side validates the file against ``dags/registry.schema.json``, the JSON schema of ``Registry`` below
(``python -m civiclake.registry > dags/registry.schema.json`` writes it; a test checks it is up to date).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from civiclake.errors import ConfigurationError

Frequency = Literal[
    "unknown", "punctual", "irregular", "continuous", "hourly", "fourTimesADay", "threeTimesADay",
    "semidaily", "daily", "fourTimesAWeek", "threeTimesAWeek", "semiweekly", "weekly", "biweekly",
    "threeTimesAMonth", "semimonthly", "monthly", "bimonthly", "quarterly", "threeTimesAYear",
    "semiannual", "annual", "biennial", "triennial", "quinquennial",
]  # fmt: skip


# A cron expression (five fields) or one of Airflow's presets. The DAG side also checks the fields' values.
SCHEDULE_PATTERN = r"^(@(hourly|daily|weekly|monthly|quarterly|yearly|annually)|\S+( \S+){4})$"


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatagouvDataset(_Entry):
    id: str = Field(description="data.gouv.fr dataset id (preferred: slugs change) or slug")
    name: str | None = Field(None, description="Name used in table names; default: the dataset's slug")
    frequency: Frequency | None = Field(None, description="Overrides the catalogue's declared frequency")
    resources: list[str] | None = Field(None, description="Resource ids or title globs to keep; default: all")
    max_resource_bytes: int | None = Field(None, ge=0, description="Overrides the default size limit")
    resource_limits: dict[str, int] = Field(
        default_factory=dict, description="Size limits for single resources, by resource id or title glob"
    )
    schedule: str | None = Field(
        None, pattern=SCHEDULE_PATTERN, description="When the DAG syncs it (cron or @preset); default: its frequency's"
    )


class DatagouvSearch(_Entry):
    # A search needs one of query/organization/tags: the JSON schema says it too, for the DAG side.
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "anyOf": [
                {"required": ["query"], "properties": {"query": {"type": "string", "minLength": 1}}},
                {"required": ["organization"], "properties": {"organization": {"type": "string", "minLength": 1}}},
                {"required": ["tags"], "properties": {"tags": {"type": "array", "minItems": 1}}},
            ]
        },
    )

    query: str | None = None
    organization: str | None = None
    tags: list[str] = Field(default_factory=list)
    max_datasets: int = Field(20, ge=1, le=1000)
    schedule: str | None = Field(
        None,
        pattern=SCHEDULE_PATTERN,
        description="When the DAG runs this search (cron or @preset); default: the DAG schedule",
    )

    @model_validator(mode="after")
    def _needs_a_criterion(self) -> DatagouvSearch:
        if not (self.query or self.organization or self.tags):
            raise ValueError("a search needs at least one of query, organization, tags")
        return self


class PodResources(_Entry):
    """Kubernetes quantities for a task pod's main container, e.g. {cpu: "2", memory: 6Gi}."""

    requests: dict[str, str] = Field(default_factory=dict)
    limits: dict[str, str] = Field(default_factory=dict)


class _Family(_Entry):
    """What the DAG of one source family needs beyond the source's own settings (config.py)."""

    timeout_minutes: int = Field(180, ge=1, le=24 * 60, description="Execution timeout of one sync task")
    resources: PodResources | None = Field(
        None, description="Resources of its task pods; default: those of the chart's ingest pod template"
    )
    max_active_syncs: int = Field(
        2,
        ge=1,
        le=256,
        description=(
            "Sync tasks of this family running at once in one DAG (max_active_tis_per_dag of the mapped task); the "
            "Airflow pool civiclake_<family> (dags/pools.json) caps them across DAGs: keep its slots at least this"
        ),
    )


class DatagouvRegistry(_Family):
    datasets: list[DatagouvDataset] = Field(default_factory=list)
    searches: list[DatagouvSearch] = Field(default_factory=list)
    schedule: str | None = Field(
        None,
        pattern=SCHEDULE_PATTERN,
        description="Schedule of the datagouv_sync DAG; default: the most frequent of its datasets' schedules",
    )


class ShopstreamRegistry(_Family):
    """The ShopStream OLTP database (source ``postgres``): one sync task per table."""

    schedule: str = Field("@hourly", pattern=SCHEDULE_PATTERN, description="Schedule of the shopstream_sync DAG")
    tables: list[str] = Field(
        default_factory=list, description="Tables synced, one task each; default: the postgres source's own list"
    )
    env_secret: str | None = Field(
        "civiclake-shopstream-credentials",
        description="Kubernetes Secret whose keys are CIVICLAKE__POSTGRES__* variables (the password)",
    )


class OlistRegistry(_Family):
    """The Olist files dropped in the landing zone (source ``files``)."""

    schedule: str = Field("@hourly", pattern=SCHEDULE_PATTERN, description="Schedule of the olist_sync DAG")


class IncidentsRegistry(_Family):
    """The incidents REST API (source ``rest``)."""

    schedule: str = Field("@hourly", pattern=SCHEDULE_PATTERN, description="Schedule of the incidents_sync DAG")
    env_secret: str | None = Field(
        "civiclake-incidents-credentials",
        description="Kubernetes Secret whose keys are CIVICLAKE__REST__* variables (the token)",
    )


class WarehouseRegistry(_Entry):
    """The dbt build, run when bronze tables change (Airflow assets)."""

    select: list[str] = Field(default_factory=list, description="dbt --select arguments; default: every model")
    timeout_minutes: int = Field(120, ge=1, le=24 * 60, description="Execution timeout of one dbt step")


class MaintenanceRegistry(_Entry):
    """Iceberg upkeep: small-file compaction, snapshot expiry, orphan-file removal."""

    schedule: str = Field("@daily", pattern=SCHEDULE_PATTERN, description="Schedule of the lake_maintenance DAG")
    snapshot_retention_days: int = Field(7, ge=1, description="Snapshots older than this are expired")
    retain_last_snapshots: int = Field(5, ge=1, description="Snapshots always kept per table, whatever their age")
    # Trino refuses to remove orphans younger than 7 days unless told otherwise (remove-orphan-files.min-retention).
    orphan_min_age_hours: int = Field(168, ge=1, description="Unreferenced files younger than this are kept")
    timeout_minutes: int = Field(120, ge=1, le=24 * 60, description="Execution timeout of one maintenance step")


class OrchestrationRegistry(_Entry):
    """Retries of every DAG task (exponential backoff between tries) and where failures are reported."""

    retries: int = Field(3, ge=0, le=10)
    retry_delay_seconds: int = Field(120, ge=1, description="Delay before the first retry; doubled at each try")
    max_retry_delay_seconds: int = Field(3600, ge=1)
    alert_connection_id: str = Field(
        "civiclake_alerts", description="Airflow connection holding the webhook URL that task failures are posted to"
    )


class Registry(_Entry):
    datagouv: DatagouvRegistry = DatagouvRegistry()
    # A family that is absent gets no DAG (its source may still be synced by `civiclake sync`).
    shopstream: ShopstreamRegistry | None = None
    olist: OlistRegistry | None = None
    incidents: IncidentsRegistry | None = None
    warehouse: WarehouseRegistry = WarehouseRegistry()
    maintenance: MaintenanceRegistry = MaintenanceRegistry()
    orchestration: OrchestrationRegistry = OrchestrationRegistry()


def registry_json_schema() -> dict[str, Any]:
    """The JSON schema the DAG side validates the registry with (committed as dags/registry.schema.json)."""
    schema = Registry.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "civiclake dataset registry"
    return schema


def load_registry(path: Path | None) -> Registry:
    """The registry at ``path``; an empty one when no path is set and no ``datasets.yaml`` exists."""
    if path is None:
        default = Path("datasets.yaml")
        if not default.is_file():
            return Registry()
        path = default
    if not path.is_file():
        raise ConfigurationError(f"dataset registry {path} does not exist (CIVICLAKE__REGISTRY__PATH)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigurationError(f"dataset registry {path} is not valid YAML: {error}") from None
    try:
        return Registry.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc'])}: {issue['msg']}" for issue in error.errors()
        )
        raise ConfigurationError(f"dataset registry {path}: {problems}") from None


if __name__ == "__main__":
    sys.stdout.write(json.dumps(registry_json_schema(), indent=2, ensure_ascii=False) + "\n")
