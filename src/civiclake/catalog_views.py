"""What the warehouse holds, for people and scripts: tables with their lineage, datasets with freshness.

``civiclake tables`` and ``civiclake status`` print these; both read Iceberg metadata and the sync
state directly, so they answer on either profile without a SQL engine.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from pyiceberg.catalog import Catalog
from pyiceberg.expressions import EqualTo

from civiclake.observability.freshness import is_late
from civiclake.warehouse.catalog_index import table_summaries
from civiclake.warehouse.meta import DATASET_LEVEL, MetaTables
from civiclake.warehouse.state import ResourceState, SyncState


@dataclass(frozen=True)
class TableInfo:
    """What Iceberg says of one table: its lineage properties and its current snapshot's totals."""

    name: str
    rows: int
    source: str | None
    dataset_id: str | None
    resource_id: str | None
    snapshot_id: int | None
    updated_at: str | None
    data_files: int = 0
    delete_files: int = 0
    size_bytes: int = 0
    snapshots: int = 0
    last_commit_timestamp: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DatasetStatus:
    source: str
    dataset_id: str
    title: str | None
    frequency: str | None
    last_modified_at_source: str | None
    last_success_at: str | None
    rows: int
    resources: int
    late: bool | None
    errors: list[str]
    # Why the dataset as a whole loads nothing, as of its latest sync: it failed at the source (also in
    # ``errors``), or every resource was skipped (``every resource skipped: format 'pdf' is not tabular (3)``).
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_tables(catalog: Catalog) -> list[TableInfo]:
    """Every table of every namespace, from metadata only (no data file is read): one catalog query for all the
    tables, their metadata files read in parallel (``catalog_index``)."""
    tables = []
    for summary in table_summaries(catalog):
        totals = summary.totals

        def total(key: str, totals: dict[str, str] = totals) -> int:
            return int(totals.get(key, 0) or 0)

        properties = summary.properties
        timestamp_ms = summary.timestamp_ms
        tables.append(
            TableInfo(
                name=".".join(summary.identifier),
                rows=total("total-records"),
                source=properties.get("civiclake.source"),
                dataset_id=properties.get("civiclake.dataset-id"),
                resource_id=properties.get("civiclake.resource-id"),
                snapshot_id=summary.snapshot_id,
                updated_at=datetime.fromtimestamp(timestamp_ms / 1000, UTC).isoformat()
                if timestamp_ms is not None
                else None,
                data_files=total("total-data-files"),
                delete_files=total("total-delete-files"),
                size_bytes=total("total-files-size"),
                snapshots=summary.snapshots,
                last_commit_timestamp=timestamp_ms / 1000 if timestamp_ms is not None else None,
            )
        )
    return tables


def dataset_statuses(
    catalog: Catalog,
    state: SyncState,
    now: datetime | None = None,
    *,
    tables: Sequence[TableInfo] | None = None,
    resource_states: Sequence[ResourceState] | None = None,
) -> list[DatasetStatus]:
    """Per dataset; ``tables`` and ``resource_states`` spare a second read when the caller has them."""
    now = now or datetime.now(UTC)
    meta = MetaTables(catalog)
    catalogue: dict[tuple[str, str], dict[str, Any]] = {}
    for row in meta.read("datasets").sort_by([("synced_at", "ascending")]).to_pylist():
        catalogue[(row["source"], row["dataset_id"])] = row  # the latest snapshot wins
    dataset_level: dict[tuple[str, str], dict[str, Any]] = {}
    for row in _dataset_level_rows(meta):
        dataset_level[(row["source"], row["dataset_id"])] = row  # the latest wins
    rows: dict[tuple[str, str], int] = defaultdict(int)
    for table in list_tables(catalog) if tables is None else tables:
        if table.source and table.dataset_id:
            rows[(table.source, table.dataset_id)] += table.rows
    resources = defaultdict(list)
    for resource in state.all() if resource_states is None else resource_states:
        resources[(resource.source, resource.dataset_id)].append(resource)

    statuses = []
    for key in sorted(set(catalogue) | set(resources) | set(dataset_level)):
        entry = catalogue.get(key, {})
        issue = dataset_level.get(key)
        if issue is not None and entry and entry["synced_at"] > issue["finished_at"]:
            issue = None  # discovered since, with resources to load: the reason is history
        dataset_error = [issue["error"]] if issue is not None and issue["status"] == "failed" else []
        successes = [r.last_success_at for r in resources[key] if r.last_success_at]
        last_success = max(successes) if successes else None
        statuses.append(
            DatasetStatus(
                source=key[0],
                dataset_id=key[1],
                title=entry.get("title"),
                frequency=entry.get("frequency"),
                last_modified_at_source=entry.get("last_modified"),
                last_success_at=last_success.isoformat() if last_success else None,
                rows=rows[key],
                resources=len(resources[key]),
                # A dataset with nothing loadable (only web pages or documents) cannot be late.
                late=is_late(entry.get("frequency"), last_success, now) if resources[key] else None,
                errors=dataset_error
                + [r.last_error for r in resources[key] if r.last_status in ("failed", "refused") and r.last_error],
                reason=issue["error"] if issue is not None else None,
            )
        )
    return statuses


def _dataset_level_rows(meta: MetaTables) -> list[dict[str, Any]]:
    """meta.ingestions rows about whole datasets, oldest first."""
    table = meta.table("ingestions").refresh()
    row_filter = EqualTo("resource_id", DATASET_LEVEL)  # type: ignore[call-arg,arg-type,misc]  # pyiceberg's overloads
    selected = ("source", "dataset_id", "status", "error", "finished_at")
    rows = table.scan(row_filter=row_filter, selected_fields=selected).to_arrow()
    return rows.sort_by([("finished_at", "ascending")]).to_pylist()
