"""Fixtures: a lakehouse on local disk fed by the bundled mirror, a real dbt build with failing tests, and the paths
of what is checked."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from civiclake.config import Settings, load_settings
from civiclake.demo.mirror.server import MirrorServer
from tests.conftest import REPO_ROOT
from tests.pipeline.lakehouse import fast_retries
from tests.transform.lakehouse import DbtLakehouse, clear_civiclake_environment

CHART = REPO_ROOT / "charts" / "civiclake"
RULE_FILES = sorted((CHART / "rules").glob("*.yaml"))
DASHBOARD_FILES = sorted((CHART / "dashboards").glob("*.json"))
PROMTOOL_TESTS = Path(__file__).with_name("promtool") / "alerts_test.yaml"
STATSD_MAPPING = REPO_ROOT / "src" / "civiclake" / "observability" / "airflow-statsd-mapping.yaml"
RUNBOOKS = REPO_ROOT / "docs" / "runbooks"
# codes_postaux, gares, frequentation_gares: the sources of the stations and communes models
STATION_DATASETS = ["53d65eb8bd2bb1511380c55a", "581c510f9f9d1d436acab664", "5ce572bf226c7f3345dfbc63"]


@pytest.fixture
def settings(tmp_path: Path, mirror: MirrorServer) -> Settings:
    return fast_retries(load_settings(environ={"CIVICLAKE_HOME": str(tmp_path / "home")}), mirror)


@pytest.fixture
def board_pictures(request: pytest.FixtureRequest) -> Path | None:
    """Where the end-to-end test leaves its board pictures (``--board-pictures docs/img``); a temp folder otherwise."""
    folder = request.config.getoption("--board-pictures")
    return request.config.invocation_params.dir / folder if folder else None


@dataclass(frozen=True)
class DbtBuild:
    """A real `civiclake transform` of the project with tests made to fail, and what it left in dbt's target/."""

    target: Path
    exit_code: int

    @property
    def run_results(self) -> Path:
        return self.target / "run_results.json"

    def results(self) -> dict[str, Any]:
        return json.loads(self.run_results.read_text())  # type: ignore[no-any-return]


# Singular tests added to a copy of the project: one fails, one errors (its SQL is wrong), one only warns.
FAILING_DBT_TESTS = {
    "assert_no_station_is_listed.sql": "select station_uic_code from {{ ref('dim_station') }}",
    "assert_stations_have_no_such_column.sql": "select no_such_column from {{ ref('dim_station') }}",
    "assert_no_commune_is_listed.sql": "{{ config(severity='warn') }}\nselect 1 as found from {{ ref('dim_commune') }}",
}


@pytest.fixture(scope="session")
def failing_dbt_build(tmp_path_factory: pytest.TempPathFactory) -> DbtBuild:
    """dbt build (dbt-core as pinned) on a lakehouse holding the open-data sources the stations and communes need."""
    lakehouse = DbtLakehouse.create(tmp_path_factory.mktemp("dbt-failing"))
    for name, sql in FAILING_DBT_TESTS.items():
        (lakehouse.project_dir / "tests" / name).write_text(sql + "\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        clear_civiclake_environment(patch)
        with MirrorServer() as mirror:
            lakehouse.sync_datagouv(mirror, STATION_DATASETS)
        result = lakehouse.civiclake("transform")
    return DbtBuild(lakehouse.home / "dbt" / "target", result.exit_code)
