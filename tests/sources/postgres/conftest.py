"""Fixtures: a lakehouse whose postgres source reads a fresh database of the suite's PostgreSQL (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg2.extensions import connection as Connection

from tests.servers.postgres import PostgresServer
from tests.sources.postgres.shop import Shop


@pytest.fixture
def shop(postgres_server: PostgresServer, database: str, connection: Connection, tmp_path: Path) -> Shop:
    """An empty database and a lakehouse whose postgres source points at it."""
    return Shop(postgres_server, database, connection, tmp_path / "home")
