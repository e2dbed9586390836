"""The warehouse built once per module: four real sources into bronze, then ``civiclake transform``.

Two stages share one lakehouse: ``warehouse`` is the first build (every table created from scratch),
``warehouse_after_changes`` lands a second round of source data (more Olist batches with late and duplicate
records, a day of ShopStream changes with hard deletes, incidents moved on a day) and transforms again, so the
incremental models, the tombstones and the users snapshot are exercised as they are in production.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from civiclake.demo.incidents.server import IncidentsServer
from civiclake.demo.mirror.server import MirrorServer
from tests.observability.prometheus_servers import running_pushgateway
from tests.servers.postgres import PostgresServer, running_postgres
from tests.transform.lakehouse import (
    DbtLakehouse,
    clear_civiclake_environment,
    olist_batches,
    shopstream_database,
    shopstream_day_of_changes,
)

OLIST_ORDERS = 300
OLIST_BATCHES = 4  # three land before the first build, the fourth before the second


@dataclass
class WarehouseRun:
    lakehouse: DbtLakehouse
    result: Result
    run_results: dict[str, Any]
    deleted: dict[str, set[int]] = field(default_factory=dict)

    def sql(self, statement: str) -> list[dict[str, Any]]:
        answer = self.lakehouse.civiclake("sql", statement, "--format", "json")
        assert answer.exit_code == 0, answer.output
        return json.loads(answer.output)


@dataclass
class Sources:
    postgres: PostgresServer
    incidents: IncidentsServer
    olist_batches: list[Path]


@pytest.fixture(scope="module")
def pushgateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus Pushgateway on a free port."""
    with running_pushgateway(tmp_path_factory.mktemp("pushgateway")) as url:
        yield url


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sources]:
    base = tmp_path_factory.mktemp("sources")
    with ExitStack() as stack:
        postgres = stack.enter_context(running_postgres(base / "postgres"))
        shopstream_database(postgres, "shopstream", scale=0.05)
        incidents = stack.enter_context(IncidentsServer(incidents=150))
        yield Sources(postgres, incidents, olist_batches(base, OLIST_ORDERS, OLIST_BATCHES))


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory, sources: Sources, pushgateway: str) -> WarehouseRun:
    lakehouse = DbtLakehouse.create(
        tmp_path_factory.mktemp("warehouse"), CIVICLAKE__METRICS__PUSHGATEWAY_URL=pushgateway
    )
    with pytest.MonkeyPatch.context() as patch:
        clear_civiclake_environment(patch)
        with MirrorServer() as mirror:
            lakehouse.sync_datagouv(mirror)
        lakehouse.land_olist_batches(sources.olist_batches[0].parent, sources.olist_batches[:-1])
        lakehouse.sync_shopstream(sources.postgres, "shopstream")
        lakehouse.sync_incidents(sources.incidents)
        result = lakehouse.civiclake("transform")
    return WarehouseRun(lakehouse, result, read_run_results(lakehouse))


@pytest.fixture(scope="module")
def warehouse_after_changes(warehouse: WarehouseRun, sources: Sources) -> WarehouseRun:
    lakehouse = warehouse.lakehouse
    with pytest.MonkeyPatch.context() as patch:
        clear_civiclake_environment(patch)
        lakehouse.land_olist_batches(sources.olist_batches[0].parent, sources.olist_batches[-1:])
        deleted = shopstream_day_of_changes(sources.postgres, "shopstream")
        lakehouse.sync_shopstream(sources.postgres, "shopstream")
        sources.incidents.advance(hours=24)
        lakehouse.sync_incidents(sources.incidents)
        result = lakehouse.civiclake("transform")
    return WarehouseRun(lakehouse, result, read_run_results(lakehouse), deleted=deleted)


def read_run_results(lakehouse: DbtLakehouse) -> dict[str, Any]:
    path = lakehouse.home / "dbt" / "target" / "run_results.json"
    return json.loads(path.read_text()) if path.exists() else {}
