"""A throwaway PostgreSQL 15 cluster on a free port on 127.0.0.1, for integration tests.

    with running_postgres(tmp_dir) as pg:
        pg.create_database("catalog")
        engine_url = pg.sqlalchemy_url("catalog")

The cluster itself is ``civiclake.servers.postgres.running_postgres`` (the demo starts the same one); tests add what
the demo must not do: install the Debian package when the binaries are missing, rather than skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from civiclake.servers import postgres as demo_postgres
from civiclake.servers.postgres import SERVER_BINARIES, PostgresServer

from .debian import ensure_debian_packages

__all__ = ["PG_BIN", "PostgresServer", "running_postgres"]

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DEBIAN_PACKAGES = ["postgresql-15"]


@contextmanager
def running_postgres(base_dir: Path) -> Iterator[PostgresServer]:
    """Run a fresh PostgreSQL 15 cluster under ``base_dir`` until the block exits, then stop it and delete it.

    Installs the Debian package postgresql-15 if its binaries are missing. The superuser is ``postgres`` with trust
    authentication on 127.0.0.1 (no password).
    """
    ensure_postgres_installed()
    with demo_postgres.running_postgres(base_dir, bin_dir=PG_BIN) as server:
        yield server


def ensure_postgres_installed() -> None:
    ensure_debian_packages(DEBIAN_PACKAGES, [str(PG_BIN / name) for name in SERVER_BINARIES])
