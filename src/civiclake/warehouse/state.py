"""Sync state: per resource, what was last loaded and under which names.

It lives in the catalog's own database (SQLite or PostgreSQL) so that every pod of the cluster shares
it, and it is read once per run: a no-op re-sync of a hundred datasets costs one query, not a hundred
Iceberg scans. It is a cache of decisions, not the record: ``meta.ingestions`` is the record, and the
bronze tables themselves say which raw files they hold (see ``BronzeLoader.holds_raw_file``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from civiclake.naming import bound_length, normalise_identifier
from civiclake.warehouse.catalog import first_setup_retried

_metadata = sa.MetaData()
resource_state = sa.Table(
    "civiclake_resource_state",
    _metadata,
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("resource_id", sa.String(255), primary_key=True),
    sa.Column("dataset_id", sa.String(255), nullable=False),
    sa.Column("dataset_name", sa.String(64), nullable=False),
    sa.Column("resource_name", sa.String(64), nullable=False),
    sa.Column("change_marker", sa.Text),
    sa.Column("cursor", sa.Text),  # where an incremental resource's next extraction starts
    sa.Column("sha256", sa.String(64)),
    sa.Column("raw_path", sa.Text),
    sa.Column("last_success_at", sa.DateTime(timezone=True)),
    sa.Column("last_attempt_at", sa.DateTime(timezone=True)),
    sa.Column("last_status", sa.String(32)),
    sa.Column("last_error", sa.Text),
)

MAX_NAME_PART = 40  # three parts plus separators stay readable and under the identifier limit


@dataclass(frozen=True)
class ResourceState:
    source: str
    resource_id: str
    dataset_id: str
    dataset_name: str
    resource_name: str
    change_marker: str | None
    cursor: str | None
    sha256: str | None
    raw_path: str | None
    last_success_at: datetime | None
    last_status: str | None
    last_error: str | None


class SyncState:
    def __init__(self, catalog_uri: str) -> None:
        self.engine = sa.create_engine(catalog_uri)
        first_setup_retried(self._create_or_migrate)

    def _create_or_migrate(self) -> None:
        _metadata.create_all(self.engine)
        _add_missing_columns(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def for_source(self, source: str) -> dict[str, ResourceState]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(resource_state).where(resource_state.c.source == source))
            return {row.resource_id: _state(row) for row in rows}

    def all(self) -> list[ResourceState]:
        with self.engine.connect() as connection:
            return [_state(row) for row in connection.execute(sa.select(resource_state))]

    def assign_names(
        self,
        source: str,
        dataset_id: str,
        resource_id: str,
        dataset_label: str,
        resource_label: str,
        entity: str | None = None,
    ) -> tuple[str, str]:
        """Names for the resource's tables and raw paths, fixed at first sight.

        Slugs and titles change on data.gouv.fr; the names do not, so a renamed resource keeps its
        table. A dataset keeps the name it was first given; two resources of one dataset with the same
        title get distinct names from their ids, unless they name the same ``entity``: then they share
        its name, and so its table.
        """
        try:
            return self._assign_names(source, dataset_id, resource_id, dataset_label, resource_label, entity)
        except sa.exc.IntegrityError:
            # Another run, syncing the same resource at the same moment, named it first: its names stand.
            return self._assign_names(source, dataset_id, resource_id, dataset_label, resource_label, entity)

    def _assign_names(
        self,
        source: str,
        dataset_id: str,
        resource_id: str,
        dataset_label: str,
        resource_label: str,
        entity: str | None,
    ) -> tuple[str, str]:
        with self.engine.begin() as connection:
            existing = connection.execute(
                sa.select(resource_state.c.dataset_name, resource_state.c.resource_name).where(
                    resource_state.c.source == source, resource_state.c.resource_id == resource_id
                )
            ).first()
            if existing:
                return existing.dataset_name, existing.resource_name
            siblings = connection.execute(
                sa.select(resource_state.c.dataset_name, resource_state.c.resource_name).where(
                    resource_state.c.source == source, resource_state.c.dataset_id == dataset_id
                )
            ).all()
            dataset_name = siblings[0].dataset_name if siblings else name_part(dataset_label, "dataset")
            resource_name = name_part(entity or resource_label, "resource")
            if entity is None and resource_name in {row.resource_name for row in siblings}:
                resource_name = bound_length(f"{resource_name}_{name_part(resource_id, 'id')[:8]}", MAX_NAME_PART)
            connection.execute(
                resource_state.insert().values(
                    source=source,
                    resource_id=resource_id,
                    dataset_id=dataset_id,
                    dataset_name=dataset_name,
                    resource_name=resource_name,
                )
            )
            return dataset_name, resource_name

    def record(
        self,
        source: str,
        resource_id: str,
        *,
        status: str,
        change_marker: str | None = None,
        cursor: str | None = None,
        sha256: str | None = None,
        raw_path: str | None = None,
        error: str | None = None,
    ) -> None:
        """Remember an attempt; only a success moves the change marker and the cursor, so a failure is retried."""
        now = datetime.now(UTC)
        values: dict[str, object] = {"last_attempt_at": now, "last_status": status, "last_error": error}
        if status in ("loaded", "unchanged"):
            values.update(change_marker=change_marker, last_success_at=now, last_error=None)
            if cursor is not None:
                values.update(cursor=cursor)
            if sha256:
                values.update(sha256=sha256, raw_path=raw_path)
        with self.engine.begin() as connection:
            connection.execute(
                resource_state.update()
                .where(resource_state.c.source == source, resource_state.c.resource_id == resource_id)
                .values(**values)
            )


def name_part(label: str, what: str) -> str:
    """The table-name part a dataset or resource labelled ``label`` gets at first sight."""
    return normalise_identifier(label, what=what, max_length=MAX_NAME_PART).lstrip("_") or "x"


def _state(row: sa.Row) -> ResourceState:
    return ResourceState(
        source=row.source,
        resource_id=row.resource_id,
        dataset_id=row.dataset_id,
        dataset_name=row.dataset_name,
        resource_name=row.resource_name,
        change_marker=row.change_marker,
        cursor=row.cursor,
        sha256=row.sha256,
        raw_path=row.raw_path,
        last_success_at=_aware(row.last_success_at),
        last_status=row.last_status,
        last_error=row.last_error,
    )


def _add_missing_columns(engine: sa.Engine) -> None:
    """Columns added since a catalog database was created (``create_all`` only creates tables)."""
    present = {column["name"] for column in sa.inspect(engine).get_columns(resource_state.name)}
    with engine.begin() as connection:
        for column in resource_state.columns:
            if column.name not in present:
                kind = column.type.compile(dialect=engine.dialect)
                connection.execute(sa.text(f'ALTER TABLE {resource_state.name} ADD COLUMN "{column.name}" {kind}'))


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes even for timezone-aware columns; they were written in UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
