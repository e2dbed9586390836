"""Helpers for the rest source tests: sync, read bronze, read the saved cursor."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from civiclake.config import Settings
from civiclake.pipeline import SyncPipeline, SyncReport
from civiclake.sources.rest import RestConnector
from civiclake.warehouse.catalog import open_catalog
from civiclake.warehouse.meta import MetaTables
from civiclake.warehouse.state import SyncState

TABLE = "bronze.rest__incidents__incident"
RESOURCE_ID = "incidents:/api/now/table/incident"


def fast_retries(settings: Settings) -> Settings:
    """Short backoff: the waits themselves are tested where they matter, with a recording sleep."""
    return settings.with_overrides(
        http={
            "backoff_initial_seconds": 0.01,
            "backoff_max_seconds": 0.05,
            "max_attempts": 3,
            "read_timeout_seconds": 5,
        }
    )


def with_endpoint(settings: Settings, **changes: Any) -> Settings:
    """The settings with the single endpoint's keys changed."""
    (endpoint,) = settings.rest.endpoints
    return settings.with_overrides(rest={"endpoints": [{**endpoint.model_dump(), **changes}]})


def sync(settings: Settings, *, sleep: Callable[[float], None] = time.sleep, full_refresh: bool = False) -> SyncReport:
    connector = RestConnector(settings.rest, settings.http, sleep=sleep)
    pipeline = SyncPipeline(settings)
    try:
        return pipeline.sync(connector, full_refresh=full_refresh)
    finally:
        connector.close()
        pipeline.close()


def bronze_rows(settings: Settings) -> list[dict[str, Any]]:
    catalog = open_catalog(settings)
    if not catalog.table_exists(TABLE):
        return []
    return catalog.load_table(TABLE).scan().to_arrow().to_pylist()


def ingestions(settings: Settings) -> list[dict[str, Any]]:
    """``meta.ingestions`` rows of the rest source, oldest first."""
    rows = MetaTables(open_catalog(settings)).read("ingestions").to_pylist()
    return sorted((row for row in rows if row["source"] == "rest"), key=lambda row: row["finished_at"])


def saved_cursor(settings: Settings) -> str | None:
    state = SyncState(settings.catalog_uri)
    try:
        found = state.for_source("rest").get(RESOURCE_ID)
        return found.cursor if found else None
    finally:
        state.close()


def only_outcome(report: SyncReport) -> Any:
    (outcome,) = report.outcomes
    return outcome
