"""Fixtures: a lakehouse on local disk fed by the bundled mirror, and the paths of what is checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from civiclake.config import Settings, load_settings
from civiclake.demo.mirror.server import MirrorServer
from tests.conftest import REPO_ROOT
from tests.pipeline.lakehouse import fast_retries

CHART = REPO_ROOT / "charts" / "civiclake"
RULE_FILES = sorted((CHART / "rules").glob("*.yaml"))
DASHBOARD_FILES = sorted((CHART / "dashboards").glob("*.json"))
PROMTOOL_TESTS = Path(__file__).with_name("promtool") / "alerts_test.yaml"
DBT_TARGET = Path(__file__).with_name("fixtures") / "dbt"
STATSD_MAPPING = REPO_ROOT / "src" / "civiclake" / "observability" / "airflow-statsd-mapping.yaml"
RUNBOOKS = REPO_ROOT / "docs" / "runbooks"


@pytest.fixture
def settings(tmp_path: Path, mirror: MirrorServer) -> Settings:
    return fast_retries(load_settings(environ={"CIVICLAKE_HOME": str(tmp_path / "home")}), mirror)


@pytest.fixture
def board_pictures(request: pytest.FixtureRequest) -> Path | None:
    """Where the end-to-end test leaves its board pictures (``--board-pictures docs/img``); a temp folder otherwise."""
    folder = request.config.getoption("--board-pictures")
    return request.config.invocation_params.dir / folder if folder else None
