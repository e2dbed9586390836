"""A lakehouse whose bronze layer comes from the four real connectors, for the dbt tests.

- data.gouv.fr: the demo registry, served by the bundled mirror (the real SNCF and La Poste files);
- Olist: generated orders replayed as micro-batches (late and duplicate records) into the landing zone;
- ShopStream: generated in a throwaway PostgreSQL, then a day of changes (updates, inserts, hard deletes);
- incidents: the local ServiceNow-style API, synced, then its clock moved on and synced again.

``civiclake transform`` runs on a copy of the dbt project, so nothing is written into the checkout.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
from click.testing import CliRunner, Result
from rich.console import Console

from civiclake.cli.main import cli
from civiclake.commands import connectors_for, run_sync
from civiclake.config import Settings, load_settings
from civiclake.demo.incidents.server import IncidentsServer
from civiclake.demo.mirror.server import MirrorServer
from civiclake.demo.olist.generate import generate_olist
from civiclake.demo.olist.replay import replay_olist
from civiclake.demo.run import DEMO_REGISTRY
from civiclake.demo.shopstream.generator import apply_day_of_changes, generate_shopstream
from civiclake.registry import load_registry
from civiclake.sources.datagouv import DatagouvConnector, DatagouvSelection
from civiclake.transform.project import CHECKOUT_PROJECT_DIR
from tests.servers.postgres import PostgresServer

QUIET = Console(file=open("/dev/null", "w"), width=160)  # noqa: SIM115 - lives as long as the test process


def copy_dbt_project(destination: Path) -> Path:
    """The checkout's dbt project, without what a run leaves behind."""
    shutil.copytree(
        CHECKOUT_PROJECT_DIR, destination, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb", ".user.yml")
    )
    return destination


@dataclass
class DbtLakehouse:
    home: Path
    project_dir: Path
    environment: dict[str, str]

    @classmethod
    def create(cls, base: Path, **extra_environment: str) -> DbtLakehouse:
        home = base / "home"
        project_dir = copy_dbt_project(base / "dbt")
        environment = {
            "CIVICLAKE_HOME": str(home),
            "CIVICLAKE_SECRETS_DIR": str(base / "no-secrets"),
            "CIVICLAKE__TRANSFORM__PROJECT_DIR": str(project_dir),
            **extra_environment,
        }
        return cls(home, project_dir, environment)

    @property
    def settings(self) -> Settings:
        return load_settings(environ=self.environment)

    def civiclake(self, *arguments: str) -> Result:
        """Run the ``civiclake`` command line in this lakehouse's environment."""
        return CliRunner().invoke(cli, list(arguments), env=self.environment, obj={}, catch_exceptions=False)

    # --- bronze, one source at a time ---

    def sync_datagouv(self, mirror: MirrorServer, dataset_ids: list[str] | None = None) -> None:
        settings = self.settings.with_overrides(datagouv={"api_url": mirror.api_url})
        registered = load_registry(DEMO_REGISTRY).datagouv.datasets
        chosen = [entry for entry in registered if dataset_ids is None or entry.id in dataset_ids]
        connector = DatagouvConnector(settings.datagouv, settings.http, DatagouvSelection(datasets=chosen))
        assert run_sync(settings, [connector], QUIET).exit_code == 0

    def land_olist_batches(self, source: Path, batches: list[Path]) -> None:
        landing = self.home / "landing"
        landing.mkdir(parents=True, exist_ok=True)
        for batch in batches:
            shutil.copytree(batch, landing / batch.name)
        assert run_sync(self.settings, connectors_for(self.settings, ["files"], []), QUIET).exit_code == 0

    def sync_shopstream(self, postgres: PostgresServer, database: str) -> None:
        overrides = {"host": postgres.host, "port": postgres.port, "database": database, "user": postgres.user}
        settings = self.settings.with_overrides(postgres=overrides)
        assert run_sync(settings, connectors_for(settings, ["postgres"], []), QUIET).exit_code == 0

    def sync_incidents(self, api: IncidentsServer) -> None:
        settings = self.settings.with_overrides(**api.settings_overrides())
        assert run_sync(settings, connectors_for(settings, ["rest"], []), QUIET).exit_code == 0


def clear_civiclake_environment(patch: pytest.MonkeyPatch) -> None:
    """Module fixtures run before the per-test environment cleanup: no CIVICLAKE_* variable of the machine counts."""
    for name in list(os.environ):
        if name.startswith("CIVICLAKE"):
            patch.delenv(name)


def olist_batches(base: Path, orders: int, batches: int) -> list[Path]:
    """Generated Olist orders replayed as ``batches`` time-ordered micro-batch folders (late and duplicate rows)."""
    generate_olist(base / "olist", orders, seed=7)
    replay_olist(base / "olist", base / "olist-batches", batches, seed=7, late=0.05, duplicates=0.02)
    return sorted((base / "olist-batches").iterdir())


def shopstream_database(postgres: PostgresServer, database: str, scale: float) -> None:
    postgres.create_database(database)
    connection = psycopg2.connect(postgres.database_dsn(database))
    try:
        generate_shopstream(connection, scale=scale, seed=11)
    finally:
        connection.close()


def shopstream_day_of_changes(postgres: PostgresServer, database: str) -> dict[str, set[int]]:
    """Apply the next day of activity; returns the ids hard-deleted, per table."""
    connection = psycopg2.connect(postgres.database_dsn(database))
    try:
        return apply_day_of_changes(connection, seed=11).deleted
    finally:
        connection.close()
