"""The demo's throwaway ShopStream database: started, generated, synced; a clear error without PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from civiclake.config import load_settings
from civiclake.pipeline import SyncPipeline
from civiclake.servers import postgres as demo_postgres
from civiclake.servers.postgres import PostgresUnavailableError, shopstream_database
from civiclake.sources.postgres import PostgresConnector


@pytest.mark.integration
def test_the_demo_database_is_ready_to_sync(tmp_path: Path) -> None:
    settings = load_settings(environ={"CIVICLAKE_HOME": str(tmp_path / "home")})
    with shopstream_database(tmp_path / "demo", scale=0.1) as overrides:
        assert set(overrides) == {"host", "port", "database", "user"}
        demo_settings = settings.with_overrides(postgres=overrides)
        pipeline, connector = SyncPipeline(demo_settings), PostgresConnector.from_settings(demo_settings)
        try:
            report = pipeline.sync(connector)
        finally:
            connector.close()
            pipeline.close()
    assert report.exit_code == 0
    assert {outcome.resource: outcome.rows for outcome in report.outcomes}["users"] == 100


def test_missing_server_binaries_give_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(demo_postgres, "_DEBIAN_BIN_DIRS", str(tmp_path / "nowhere" / "*" / "bin"))
    monkeypatch.setenv("PATH", str(tmp_path))
    expected = r"initdb, pg_ctl, postgres\) not found .* nor on the PATH: install them .*apt-get install postgresql"
    with pytest.raises(PostgresUnavailableError, match=expected), shopstream_database(tmp_path / "demo"):
        pass
