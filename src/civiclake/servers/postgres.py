"""A throwaway PostgreSQL cluster on 127.0.0.1, and the ShopStream database the demo syncs from.

    with running_postgres(base_dir) as server:          # initdb + pg_ctl start on a free port
        server.create_database("shopstream")

    with shopstream_database(base_dir) as overrides:     # the same, plus ShopStream generated at scale 1
        settings = settings.with_overrides(postgres=overrides)

The cluster is for demos and tests only: ``initdb -A trust --no-sync``, ``fsync=off``, the superuser ``postgres``
without a password, listening on 127.0.0.1 and on a Unix socket in its own directory (never the system-wide
/var/run/postgresql). PostgreSQL refuses to run as root, so as root every binary runs through
``runuser -u postgres --``. On exit the server is stopped and its files deleted.
"""

from __future__ import annotations

import glob
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
from typing import Any

from civiclake.servers.process import ServerUnavailableError, free_tcp_port, tail_of

log = logging.getLogger(__name__)

SUPERUSER = "postgres"
SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
# Debian and Ubuntu keep each major version's server binaries outside the PATH.
_DEBIAN_BIN_DIRS = "/usr/lib/postgresql/*/bin"
# Unix socket paths are limited to 107 bytes; PostgreSQL adds "/.s.PGSQL.NNNNN" to the socket directory.
_MAX_SOCKET_DIR_LENGTH = 90
_START_ATTEMPTS = 3


class PostgresUnavailableError(ServerUnavailableError):
    """The PostgreSQL server binaries are missing, or the throwaway cluster would not start."""


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    dsn: str  # libpq key=value DSN for the "postgres" database
    data_dir: Path
    socket_dir: Path
    log_file: Path
    bin_dir: Path

    def sqlalchemy_url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://{self.user}@{self.host}:{self.port}/{database}"

    def database_dsn(self, database: str) -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname={database}"

    def create_database(self, name: str, owner: str | None = None) -> None:
        """CREATE DATABASE ``name`` (quoted as an identifier, so any name is safe), owned by ``owner`` if given."""
        from psycopg2 import sql

        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if owner is not None:
            statement = sql.SQL("{} OWNER {}").format(statement, sql.Identifier(owner))
        self._execute(statement)

    def create_role(self, name: str, password: str | None) -> None:
        """A login role, with a password (the chart's catalog and Airflow roles) or without (trust on loopback)."""
        from psycopg2 import sql

        statement = sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name))
        if password is not None:
            statement = sql.SQL("{} PASSWORD {}").format(statement, sql.Literal(password))
        self._execute(statement)

    def _execute(self, statement: Any) -> None:
        import psycopg2

        connection = psycopg2.connect(self.dsn)
        try:
            connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()


def find_server_binaries() -> Path:
    """The directory holding initdb, pg_ctl and postgres: the newest Debian-style install, else the PATH."""
    candidates = sorted(glob.glob(_DEBIAN_BIN_DIRS), key=_major_version, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for candidate in candidates:
        if all(os.access(Path(candidate) / name, os.X_OK) for name in SERVER_BINARIES):
            return Path(candidate)
    raise PostgresUnavailableError(
        f"PostgreSQL server binaries ({', '.join(SERVER_BINARIES)}) not found in {_DEBIAN_BIN_DIRS} nor on the PATH: "
        "install them (Debian: `apt-get install postgresql-15`, or `make system-deps`)"
    )


def _major_version(bin_dir: str) -> int:
    version = Path(bin_dir).parent.name
    return int(version) if version.isdigit() else 0


@contextmanager
def running_postgres(
    base_dir: Path, bin_dir: Path | None = None, *, port: int | None = None
) -> Iterator[PostgresServer]:
    """Run a fresh PostgreSQL cluster under ``base_dir`` until the block exits, then stop it and delete it.

    Raises PostgresUnavailableError when the server binaries are absent (nothing is installed here).
    """
    server = start_postgres(base_dir, bin_dir, port=port)
    try:
        yield server
    finally:
        stop_postgres(server)


def start_postgres(base_dir: Path, bin_dir: Path | None = None, *, port: int | None = None) -> PostgresServer:
    """A fresh cluster under ``base_dir``, started on ``port`` (default: a free one); it runs until
    ``stop_postgres`` (pg_ctl detaches it)."""
    bin_dir = bin_dir or find_server_binaries()
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        raise PostgresUnavailableError("runuser (util-linux) is needed to run PostgreSQL as the postgres user")

    root = _make_root(Path(base_dir))
    data_dir = root / "data"
    log_file = root / "postgres.log"
    try:
        started = time.monotonic()
        initdb = [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8"]
        _run([*initdb, "--locale=C", "--no-sync", "--no-instructions"], cwd=root, what="initdb")
        port = _start(bin_dir, data_dir, root, log_file, port)
    except BaseException:
        _stop(bin_dir, data_dir, root)
        shutil.rmtree(root, ignore_errors=True)
        raise
    log.info("PostgreSQL ready on port %d in %.2f s", port, time.monotonic() - started)
    return PostgresServer(
        host="127.0.0.1",
        port=port,
        user=SUPERUSER,
        dsn=f"host=127.0.0.1 port={port} user={SUPERUSER} dbname=postgres",
        data_dir=data_dir,
        socket_dir=root,
        log_file=log_file,
        bin_dir=bin_dir,
    )


def stop_postgres(server: PostgresServer) -> None:
    """Stop the cluster and delete its files."""
    stop_postgres_data_dir(server.bin_dir, server.data_dir)


def stop_postgres_data_dir(bin_dir: Path, data_dir: Path) -> None:
    """Stop the cluster of ``data_dir`` (started by another process, say) and delete its folder."""
    _stop(bin_dir, data_dir, data_dir.parent)
    shutil.rmtree(data_dir.parent, ignore_errors=True)


@contextmanager
def shopstream_database(
    base_dir: Path, *, scale: float = 1.0, seed: int | None = None, database: str = "shopstream"
) -> Iterator[dict[str, Any]]:
    """A throwaway cluster holding ShopStream generated at ``scale``; yields the ``postgres`` settings overrides.

    Use as ``settings.with_overrides(postgres=overrides)``. Raises PostgresUnavailableError when the server
    binaries are absent.
    """
    import psycopg2

    from civiclake.demo.shopstream import DEFAULT_SEED, generate_shopstream

    with running_postgres(base_dir) as server:
        server.create_database(database)
        connection = psycopg2.connect(server.database_dsn(database))
        try:
            generate_shopstream(connection, scale=scale, seed=DEFAULT_SEED if seed is None else seed)
        finally:
            connection.close()
        yield {"host": server.host, "port": server.port, "database": database, "user": server.user}


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
        raise PostgresUnavailableError(f"{what} failed (exit code {result.returncode}): {' '.join(args)}\n{details}")


def _start(bin_dir: Path, data_dir: Path, root: Path, log_file: Path, asked_port: int | None) -> int:
    attempts = 1 if asked_port else _START_ATTEMPTS  # a port the user chose is not swapped for another
    for attempt in range(1, attempts + 1):
        port = asked_port or free_tcp_port()
        options = (
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-l", str(log_file), "-o", options]
        try:
            _run([*pg_ctl, "-w", "-t", "30", "start"], cwd=root, what="pg_ctl start", log_file=log_file)
            return port
        except PostgresUnavailableError:
            # Another process may have taken the port between our check and PostgreSQL's bind.
            _stop(bin_dir, data_dir, root)
            if attempt == attempts:
                raise
    raise AssertionError("unreachable: the loop returns or raises")


def _postgres_can_write(directory: Path) -> bool:
    if os.geteuid() != 0:
        return os.access(directory, os.W_OK | os.X_OK)
    check = subprocess.run(_as_postgres(["test", "-w", str(directory), "-a", "-x", str(directory)]), check=False)
    return check.returncode == 0


def _make_root(base_dir: Path) -> Path:
    """The directory holding the data, socket and log, owned by the postgres user.

    Falls back to a private temporary directory when the postgres user cannot reach ``base_dir`` (pytest's
    ``/tmp/pytest-of-root`` is mode 0700) or when the path is too long for a Unix socket.
    """
    base_dir.mkdir(parents=True, exist_ok=True)
    root = base_dir / "postgres"
    root.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(root, SUPERUSER, SUPERUSER)
    if len(str(root)) <= _MAX_SOCKET_DIR_LENGTH and _postgres_can_write(root):
        return root
    shutil.rmtree(root, ignore_errors=True)
    private = Path(tempfile.mkdtemp(prefix="civiclake-pg-"))
    if os.geteuid() == 0:
        shutil.chown(private, SUPERUSER, SUPERUSER)
    log.info("postgres user cannot use %s (or the path is too long for a socket): using %s", base_dir, private)
    return private


def _stop(bin_dir: Path, data_dir: Path, root: Path) -> None:
    if not (data_dir / "postmaster.pid").exists():
        return
    result = subprocess.run(
        _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "-t", "20", "stop"]),
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
