"""The chart's PostgreSQL initdb script, run for real: the script rendered from the chart goes to a real PostgreSQL
15 that, like the in-chart one, asks for passwords over TCP (scram-sha-256), and its effects are read back."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from tests.servers.postgres import PostgresServer, running_postgres

from .conftest import one, render_objects, rendered_scenario

pytestmark = pytest.mark.integration

SCRIPT_KEY = "10-civiclake-airflow-database.sh"
ADMIN_PASSWORD = "admin-secret"
# Quotes, a command substitution and a backslash: the script must hand it to PostgreSQL untouched.
HOSTILE_PASSWORD = 'it\'s "$(touch PWNED)" `id` \\; DROP ROLE postgres; --'


def initdb_script(values: dict | None = None) -> str:
    objects = render_objects(values) if values else rendered_scenario("default")
    return str(one(objects, "ConfigMap", "civiclake-postgresql-initdb")["data"][SCRIPT_KEY])


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A cluster whose TCP connections need a password, as in the chart; the Unix socket stays trusted for setup."""
    with running_postgres(tmp_path_factory.mktemp("initdb-postgres")) as server:
        admin(server, "ALTER ROLE postgres PASSWORD %s", (ADMIN_PASSWORD,))
        (server.data_dir / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n", encoding="utf-8"
        )
        admin(server, "SELECT pg_reload_conf()")
        yield server


def admin(server: PostgresServer, statement: str, parameters: tuple = ()) -> list[tuple]:
    """A statement as the superuser over the trusted Unix socket."""
    connection = psycopg2.connect(host=str(server.socket_dir), port=server.port, user="postgres", dbname="postgres")
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(statement, parameters)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


def run_script(
    server: PostgresServer, script: str, workdir: Path, environment: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """The script as the PostgreSQL image runs it: bash, psql on the PATH, the server's address in libpq's variables."""
    path = workdir / SCRIPT_KEY
    path.write_text(script, encoding="utf-8")
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("PG", "POSTGRES", "CIVICLAKE"))}
    return subprocess.run(
        ["bash", str(path)],
        env=clean | {"PGHOST": server.host, "PGPORT": str(server.port)} | environment,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def connects(server: PostgresServer, user: str, password: str, database: str) -> bool:
    try:
        connection = psycopg2.connect(
            host=server.host, port=server.port, user=user, password=password, dbname=database, connect_timeout=5
        )
    except psycopg2.OperationalError:
        return False
    connection.close()
    return True


def test_initdb_script_creates_the_airflow_role_and_database_once(postgres: PostgresServer, tmp_path: Path) -> None:
    # Names other than the defaults, so nothing depends on "airflow" being hard-coded.
    script = initdb_script({"airflowDatabase": {"user": "airflow_meta", "name": "airflow_metadata"}})
    password_file = tmp_path / "postgres-password"
    password_file.write_text(ADMIN_PASSWORD, encoding="utf-8")
    # The admin password from a file (the PostgreSQL chart's default with a mounted Secret).
    environment = {
        "POSTGRES_POSTGRES_PASSWORD_FILE": str(password_file),
        "CIVICLAKE_AIRFLOW_DB_PASSWORD": HOSTILE_PASSWORD,
    }

    first = run_script(postgres, script, tmp_path, environment)
    assert first.returncode == 0, first.stdout + first.stderr
    assert not (tmp_path / "PWNED").exists(), "the password was evaluated by the shell"

    [(login, superuser, create_db, create_role)] = admin(
        postgres,
        "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = %s",
        ("airflow_meta",),
    )
    assert (login, superuser, create_db, create_role) == (True, False, False, False), "a login role, nothing more"
    [(owner,)] = admin(
        postgres,
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
        ("airflow_metadata",),
    )
    assert owner == "airflow_meta"
    # The role logs in with exactly the password it was given, and owns what `airflow db migrate` creates.
    assert connects(postgres, "airflow_meta", HOSTILE_PASSWORD, "airflow_metadata")
    assert not connects(postgres, "airflow_meta", "wrong", "airflow_metadata")
    connection = psycopg2.connect(
        host=postgres.host,
        port=postgres.port,
        user="airflow_meta",
        password=HOSTILE_PASSWORD,
        dbname="airflow_metadata",
    )
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
            cursor.execute("INSERT INTO alembic_version VALUES ('x')")
    finally:
        connection.close()

    # A second run (a restarted pod with the data kept) changes nothing and does not fail.
    again = run_script(
        postgres, script, tmp_path, {"POSTGRES_POSTGRES_PASSWORD": ADMIN_PASSWORD, "CIVICLAKE_AIRFLOW_DB_PASSWORD": "x"}
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert admin(postgres, "SELECT count(*) FROM pg_roles WHERE rolname = 'airflow_meta'") == [(1,)]
    assert admin(postgres, "SELECT count(*) FROM pg_database WHERE datname = 'airflow_metadata'") == [(1,)]
    assert connects(postgres, "airflow_meta", HOSTILE_PASSWORD, "airflow_metadata"), "the first password stands"


def test_initdb_script_without_the_airflow_password_stops_naming_the_value(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    result = run_script(postgres, initdb_script(), tmp_path, {"POSTGRES_POSTGRES_PASSWORD": ADMIN_PASSWORD})
    assert result.returncode != 0
    assert "postgresql.primary.extraEnvVars CIVICLAKE_AIRFLOW_DB_PASSWORD" in result.stderr
    assert admin(postgres, "SELECT count(*) FROM pg_roles WHERE rolname = 'airflow'") == [(0,)]


def test_initdb_script_with_a_wrong_admin_password_fails_and_creates_nothing(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    environment = {"POSTGRES_POSTGRES_PASSWORD": "not-the-password", "CIVICLAKE_AIRFLOW_DB_PASSWORD": "p"}
    result = run_script(postgres, initdb_script(), tmp_path, environment)
    assert result.returncode != 0
    assert "password authentication failed" in result.stderr
    assert admin(postgres, "SELECT count(*) FROM pg_roles WHERE rolname = 'airflow'") == [(0,)]
    assert admin(postgres, "SELECT count(*) FROM pg_database WHERE datname = 'airflow'") == [(0,)]
