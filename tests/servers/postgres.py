"""A throwaway PostgreSQL 15 cluster on a free port on 127.0.0.1, for integration tests.

    with running_postgres(tmp_dir) as pg:
        pg.create_database("catalog")
        engine_url = pg.sqlalchemy_url("catalog")

initdb runs with ``-A trust --no-sync`` and the server with ``fsync=off``: fast, and durable enough for a test.
PostgreSQL refuses to run as root, so as root every PostgreSQL binary runs through ``runuser -u postgres --``.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import free_tcp_port, tail_of
from .debian import ensure_debian_packages

log = logging.getLogger(__name__)

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DEBIAN_PACKAGES = ["postgresql-15"]
SUPERUSER = "postgres"
# Unix sockets paths are limited to 107 bytes; PostgreSQL adds "/.s.PGSQL.NNNNN" to the socket directory.
_MAX_SOCKET_DIR_LENGTH = 90
_START_ATTEMPTS = 3


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    dsn: str  # libpq key=value DSN for the "postgres" database
    data_dir: Path
    socket_dir: Path
    log_file: Path

    def sqlalchemy_url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://{self.user}@{self.host}:{self.port}/{database}"

    def database_dsn(self, database: str) -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname={database}"

    def create_database(self, name: str) -> None:
        """CREATE DATABASE ``name`` (quoted as an identifier, so any name is safe)."""
        import psycopg2
        from psycopg2 import sql

        connection = psycopg2.connect(self.dsn)
        try:
            connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
            with connection.cursor() as cursor:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        finally:
            connection.close()


def _as_postgres(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", SUPERUSER, "--", *args]
    return args


def _clean_env() -> dict[str, str]:
    # PGPORT, PGDATA, PGHOST... from the caller's environment must not redirect our commands.
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")} | {"LC_ALL": "C"}


def _run(args: list[str], cwd: Path, what: str, log_file: Path | None = None) -> None:
    result = subprocess.run(_as_postgres(args), cwd=cwd, env=_clean_env(), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        details = (result.stdout + result.stderr).strip()
        if log_file is not None:
            details += f"\n--- {log_file} ---\n{tail_of(log_file)}"
        raise RuntimeError(f"{what} failed (exit code {result.returncode}): {' '.join(args)}\n{details}")


def _postgres_can_write(directory: Path) -> bool:
    if os.geteuid() != 0:
        return os.access(directory, os.W_OK | os.X_OK)
    check = subprocess.run(_as_postgres(["test", "-w", str(directory), "-a", "-x", str(directory)]), check=False)
    return check.returncode == 0


def _make_root(base_dir: Path) -> tuple[Path, bool]:
    """The directory holding the data, socket and log, owned by the postgres user.

    Returns it and whether it is a private temporary directory (used when the postgres user cannot reach
    ``base_dir``, e.g. under pytest's ``/tmp/pytest-of-root``, which is mode 0700).
    """
    base_dir.mkdir(parents=True, exist_ok=True)
    root = base_dir / "postgres"
    root.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(root, SUPERUSER, SUPERUSER)
    if len(str(root)) <= _MAX_SOCKET_DIR_LENGTH and _postgres_can_write(root):
        return root, False
    shutil.rmtree(root, ignore_errors=True)
    private = Path(tempfile.mkdtemp(prefix="civiclake-pg-"))
    if os.geteuid() == 0:
        shutil.chown(private, SUPERUSER, SUPERUSER)
    log.info("postgres user cannot use %s (or the path is too long for a socket): using %s", base_dir, private)
    return private, True


def _stop(data_dir: Path, root: Path) -> None:
    if not (data_dir / "postmaster.pid").exists():
        return
    result = subprocess.run(
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "-t", "20", "stop"]),
        cwd=root,
        env=_clean_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode == 0:
        return
    # pg_ctl could not stop it: kill the postmaster named in postmaster.pid (its first line).
    try:
        pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, 9)
    except (OSError, ValueError, IndexError):
        log.warning("could not stop PostgreSQL in %s: %s", data_dir, result.stderr.strip())


@contextmanager
def running_postgres(base_dir: Path) -> Iterator[PostgresServer]:
    """Run a fresh PostgreSQL 15 cluster under ``base_dir`` until the block exits, then stop it and delete it.

    Installs the Debian package postgresql-15 if its binaries are missing. The superuser is ``postgres`` with trust
    authentication on 127.0.0.1 (no password). The server listens on a free TCP port and on a Unix socket in its
    own directory, never on the system-wide /var/run/postgresql.
    """
    ensure_debian_packages(DEBIAN_PACKAGES, [str(PG_BIN / name) for name in ("initdb", "pg_ctl", "postgres")])
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        raise RuntimeError("runuser (util-linux) is needed to run PostgreSQL as the postgres user")

    root, _private = _make_root(Path(base_dir))
    data_dir = root / "data"
    log_file = root / "postgres.log"
    try:
        started = time.monotonic()
        _run(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                SUPERUSER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            cwd=root,
            what="initdb",
        )
        port = 0
        for attempt in range(1, _START_ATTEMPTS + 1):
            port = free_tcp_port()
            options = (
                f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off"
            )
            try:
                _run(
                    [
                        str(PG_BIN / "pg_ctl"),
                        "-D",
                        str(data_dir),
                        "-l",
                        str(log_file),
                        "-o",
                        options,
                        "-w",
                        "-t",
                        "30",
                        "start",
                    ],
                    cwd=root,
                    what="pg_ctl start",
                    log_file=log_file,
                )
                break
            except RuntimeError:
                # Another process may have taken the port between our check and PostgreSQL's bind.
                _stop(data_dir, root)
                if attempt == _START_ATTEMPTS:
                    raise
        server = PostgresServer(
            host="127.0.0.1",
            port=port,
            user=SUPERUSER,
            dsn=f"host=127.0.0.1 port={port} user={SUPERUSER} dbname=postgres",
            data_dir=data_dir,
            socket_dir=root,
            log_file=log_file,
        )
        log.info("PostgreSQL ready on port %d in %.2f s", port, time.monotonic() - started)
        yield server
    finally:
        _stop(data_dir, root)
        shutil.rmtree(root, ignore_errors=True)
