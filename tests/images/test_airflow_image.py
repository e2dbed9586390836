"""The Airflow image started as the Apache Airflow chart starts it: its entrypoint, the chart's migration Job
command (`airflow db migrate`, then the civiclake pools) against a PostgreSQL metadata database (the suite's
PostgreSQL, a database of this module), then the DAGs it carries parsed by Airflow in the image with no import
error. As uid 50000, group 0 (the chart's Airflow securityContexts), with a read-only root file system and
emptyDirs for /tmp and the logs; airflow.cfg is mounted read-only, as the chart mounts its ConfigMap."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from civiclake.servers.images import BuiltImage, ContainerRun, Podman, repository_root, run_container
from civiclake.servers.stack import ClusterServers

from .conftest import VALUES

pytestmark = pytest.mark.integration

SCRATCH = ("/tmp", "/opt/airflow/logs")
# What the chart's ConfigMap would hold that matters here; the rest comes from the environment, as in the chart.
AIRFLOW_CFG = "[core]\nload_examples = False\n"
DAG_FILES = sorted(path.stem for path in (repository_root() / "dags").glob("*.py"))


def last_json(output: str) -> Any:
    """The JSON an `airflow ... --output json` command prints last (Airflow logs to stdout before it)."""
    return json.loads(output.strip().splitlines()[-1])


@dataclass
class AirflowContainer:
    engine: Podman
    image: BuiltImage
    environment: dict[str, str]
    config: Path

    def run(self, *command: str) -> tuple[int, str, str]:
        result = run_container(
            self.engine,
            ContainerRun(
                self.image.tag,
                command,
                environment=self.environment,
                scratch=SCRATCH,
                volumes={self.config: "/opt/airflow/airflow.cfg"},
            ),
            timeout=900,
        )
        return result.returncode, result.stdout, result.stderr


@pytest.fixture(scope="module")
def airflow(
    cluster: ClusterServers,
    built_image: Callable[[str], BuiltImage],
    engine: Podman,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AirflowContainer]:
    database = f"airflow{uuid.uuid4().hex[:10]}"
    cluster.postgres.create_database(database)
    config = tmp_path_factory.mktemp("airflow-config") / "airflow.cfg"
    config.write_text(AIRFLOW_CFG)
    postgres = cluster.postgres
    # The Secret the chart names in airflow.data.metadataSecretName holds a postgresql:// URL.
    connection = f"postgresql://{postgres.user}@{postgres.host}:{postgres.port}/{database}"
    yield AirflowContainer(engine, built_image("airflow"), {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": connection}, config)


def test_the_airflow_image_starts_airflow_at_the_charts_version(airflow: AirflowContainer) -> None:
    code, out, err = airflow.run()  # the image's CMD: `airflow version`, through its entrypoint
    assert code == 0, out + err
    assert out.strip().splitlines()[-1] == VALUES["airflow"]["airflowVersion"]


def test_the_charts_migration_job_command_migrates_postgresql_and_imports_the_pools(airflow: AirflowContainer) -> None:
    command = VALUES["airflow"]["migrateDatabaseJob"]["args"]
    code, out, err = airflow.run(*command)
    assert code == 0, (out + err)[-6000:]
    code, out, err = airflow.run("airflow", "pools", "list", "--output", "json")
    assert code == 0, (out + err)[-4000:]
    pools = {pool["pool"]: int(pool["slots"]) for pool in last_json(out)}
    expected = json.loads((repository_root() / "dags" / "pools.json").read_text())
    assert {name: pools.get(name) for name in expected} == {name: pool["slots"] for name, pool in expected.items()}


def test_every_dag_the_image_carries_imports_without_error(airflow: AirflowContainer) -> None:
    code, out, err = airflow.run("airflow", "dags", "list-import-errors", "--local", "--output", "json")
    assert code == 0, (out + err)[-6000:]
    assert last_json(out) == [], out
    code, out, err = airflow.run("airflow", "dags", "list", "--local", "--output", "json")
    assert code == 0, (out + err)[-6000:]
    files = {Path(dag["fileloc"]).stem for dag in last_json(out)}
    assert files == set(DAG_FILES), out
