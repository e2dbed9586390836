"""A lakehouse with the four domains built (the same sources as tests/transform), for the semantic layer's
tests: `civiclake metric` against the gold marts of the same lakehouse."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from civiclake.demo.incidents.server import IncidentsServer
from civiclake.demo.mirror.server import MirrorServer
from tests.servers.postgres import running_postgres
from tests.transform.lakehouse import DbtLakehouse, clear_civiclake_environment, olist_batches, shopstream_database


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every test here runs on a warehouse built from real servers (PostgreSQL, the incidents API, the mirror).
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.integration)


class MetricLakehouse:
    def __init__(self, lakehouse: DbtLakehouse) -> None:
        self.lakehouse = lakehouse

    def sql(self, statement: str) -> list[dict[str, Any]]:
        answer = self.lakehouse.civiclake("sql", statement, "--format", "json")
        assert answer.exit_code == 0, answer.output
        return json.loads(answer.output)

    def metric(self, *arguments: str) -> list[dict[str, Any]]:
        answer = self.lakehouse.civiclake("metric", "query", *arguments, "--format", "json")
        assert answer.exit_code == 0, answer.output
        return json.loads(answer.stdout)


@pytest.fixture(scope="package")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetricLakehouse]:
    base = tmp_path_factory.mktemp("semantic")
    lakehouse = DbtLakehouse.create(base / "lakehouse")
    with pytest.MonkeyPatch.context() as patch, ExitStack() as stack:
        clear_civiclake_environment(patch)
        postgres = stack.enter_context(running_postgres(base / "postgres"))
        shopstream_database(postgres, "shopstream", scale=0.05)
        incidents = stack.enter_context(IncidentsServer(incidents=300))
        batches = olist_batches(base / "sources", 300, 3)
        with MirrorServer() as mirror:
            lakehouse.sync_datagouv(mirror)
        lakehouse.land_olist_batches(batches[0].parent, batches)
        lakehouse.sync_shopstream(postgres, "shopstream")
        lakehouse.sync_incidents(incidents)
        result = lakehouse.civiclake("transform")
        assert result.exit_code == 0, result.output
        yield MetricLakehouse(lakehouse)
