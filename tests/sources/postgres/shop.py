"""Helpers for the postgres source's tests: sync a ShopStream database into a local lakehouse, read bronze back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from psycopg2.extensions import connection as Connection

from civiclake.config import Settings, load_settings
from civiclake.pipeline import SyncPipeline, SyncReport
from civiclake.sources.postgres import PostgresConnector
from civiclake.warehouse.catalog import open_catalog
from civiclake.warehouse.meta import MetaTables
from civiclake.warehouse.state import SyncState
from tests.servers.postgres import PostgresServer

BRONZE = "bronze.postgres__shopstream__"


@dataclass
class Shop:
    server: PostgresServer
    database: str
    connection: Connection
    home: Path
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        base = load_settings(environ={"CIVICLAKE_HOME": str(self.home), "CIVICLAKE_SECRETS_DIR": "/nonexistent"})
        postgres = {"host": self.server.host, "port": self.server.port, "database": self.database, "user": "postgres"}
        return base.with_overrides(postgres=postgres | self.overrides)

    def sync(self, *, full_refresh: bool = False) -> SyncReport:
        settings = self.settings
        pipeline = SyncPipeline(settings)
        connector = PostgresConnector.from_settings(settings)
        try:
            return pipeline.sync(connector, full_refresh=full_refresh)
        finally:
            connector.close()
            pipeline.close()

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.connection.cursor() as cursor:
            cursor.execute(statement, params)
            rows = cursor.fetchall() if cursor.description else []
        self.connection.commit()
        return rows

    def bronze(self, table: str) -> pa.Table:
        return open_catalog(self.settings).load_table(BRONZE + table).scan().to_arrow()

    def bronze_tables(self) -> set[str]:
        return {".".join(name) for name in open_catalog(self.settings).list_tables("bronze")}

    def ingestions(self) -> pa.Table:
        return MetaTables(open_catalog(self.settings)).read("ingestions")

    def cursors(self) -> dict[str, str | None]:
        state = SyncState(self.settings.catalog_uri)
        try:
            return {resource_id: item.cursor for resource_id, item in state.for_source("postgres").items()}
        finally:
            state.close()


def ids(table: pa.Table, deleted: bool | None = None) -> list[int]:
    """The table's ids, sorted; only tombstones (deleted=True) or only extracted rows (deleted=False)."""
    if deleted is not None:
        table = table.filter(pc.equal(table["_deleted"], deleted))
    return sorted(table["id"].to_pylist())


def outcomes(report: SyncReport) -> dict[str, tuple[str, int]]:
    return {outcome.resource: (outcome.status, outcome.rows) for outcome in report.outcomes}
