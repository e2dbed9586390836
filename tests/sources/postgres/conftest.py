"""Fixtures: one real PostgreSQL for the module's tests, a fresh database per test, a lakehouse to sync into."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from psycopg2.extensions import connection as Connection

from tests.servers.postgres import PostgresServer, running_postgres
from tests.sources.postgres.shop import Shop


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    with running_postgres(tmp_path_factory.mktemp("shopstream-pg")) as server:
        yield server


@pytest.fixture
def database(postgres_server: PostgresServer) -> str:
    name = f"shop_{uuid.uuid4().hex[:10]}"
    postgres_server.create_database(name)
    return name


@pytest.fixture
def connection(postgres_server: PostgresServer, database: str) -> Iterator[Connection]:
    connection = psycopg2.connect(postgres_server.database_dsn(database))
    yield connection
    connection.close()


@pytest.fixture
def shop(postgres_server: PostgresServer, database: str, connection: Connection, tmp_path: Path) -> Shop:
    """An empty database and a lakehouse whose postgres source points at it."""
    return Shop(postgres_server, database, connection, tmp_path / "home")
