"""`civiclake dev up` / `civiclake dev down` as a user runs them: the installed `civiclake` command, in subprocesses,
with its home in a temporary folder. The environment `dev up` prints must be enough for civiclake and for a Trino
client; a second `dev up` finds the servers running; `dev down` stops its processes and deletes their data.

This starts a second PostgreSQL, MinIO and Trino beside the suite's `cluster` fixture: `dev up` detaches them, so
they are stopped in the fixture's teardown whatever the test did."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trino

from civiclake.servers.stack import dev_state_dir, read_state

CIVICLAKE = Path(sys.executable).with_name("civiclake")  # the console script pyproject.toml installs


@dataclass
class DevHome:
    home: Path
    base_environment: dict[str, str]

    def civiclake(self, *arguments: str, environment: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CIVICLAKE), *arguments],
            env={**self.base_environment, **(environment or {}), "CIVICLAKE_HOME": str(self.home)},
            cwd=self.home.parent,
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )

    def dev_up(self) -> tuple[dict[str, Any], str]:
        result = self.civiclake("dev", "up", "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout), result.stderr


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (not gone, not a zombie waiting to be reaped)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return status != "Z"


@pytest.fixture
def dev_home(tmp_path: Path) -> Iterator[DevHome]:
    # The autouse fixture has already removed the machine's CIVICLAKE_* variables from os.environ.
    home = DevHome(tmp_path / "home", dict(os.environ))
    yield home
    if read_state(home.home) is not None:
        home.civiclake("dev", "down")


def test_dev_up_prints_a_working_cluster_environment_and_dev_down_stops_it(dev_home: DevHome) -> None:
    assert CIVICLAKE.is_file()
    printed, progress = dev_home.dev_up()
    assert "dev up: started" in progress
    environment = printed["environment"]
    assert environment["CIVICLAKE_PROFILE"] == "cluster"
    state = read_state(dev_home.home)
    assert state is not None and state["environment"] == environment
    pids = state["pids"]
    assert set(pids) == {"postgresql", "minio", "trino", "audit_receiver"}
    assert all(running(pid) for pid in pids.values())

    # A Trino client at the printed address sees the chart's namespaces, and writes a table...
    connection = trino.dbapi.connect(
        host=environment["TRINO_HOST"],
        port=int(environment["TRINO_PORT"]),
        user=environment["TRINO_USER"],
        catalog=environment["TRINO_CATALOG"],
    )
    try:
        cursor = connection.cursor()
        cursor.execute("SHOW SCHEMAS")
        assert {"bronze", "meta", "silver", "gold"} <= {schema for (schema,) in cursor.fetchall()}
        cursor.execute("CREATE TABLE bronze.dev_check AS SELECT * FROM (VALUES (1, 'un'), (2, 'deux')) AS t(id, label)")
        assert cursor.fetchall() == [[2]]
    finally:
        connection.close()

    # ... which civiclake, given only the printed environment, finds in the catalog on the cluster profile.
    tables = dev_home.civiclake("tables", "--json", environment=environment)
    assert tables.returncode == 0, tables.stderr
    listed = {table["name"]: table for table in json.loads(tables.stdout)}
    assert listed["bronze.dev_check"]["rows"] == 2

    # A second `dev up` starts nothing: the same servers, the same environment.
    again, progress = dev_home.dev_up()
    assert "already running" in progress
    assert again == printed
    assert read_state(dev_home.home) == state

    down = dev_home.civiclake("dev", "down")
    assert down.returncode == 0, down.stderr
    assert "servers stopped" in down.stderr
    assert not any(running(pid) for pid in pids.values())
    assert not dev_state_dir(dev_home.home).exists()
    assert "nothing was running" in dev_home.civiclake("dev", "down").stderr
