"""One writer per bronze table at a time, from "does the table already hold this raw file?" to the commit's record.

Two syncs of one resource can run at once: two terminals on a laptop, or on the cluster an Airflow retry that
starts while the slow first try is still loading. Both would find the new file absent and both append it, since
Iceberg's optimistic commit retries an append on the refreshed table without asking that question again. So a
sync holds the table's lock across the check, the write, the commit and the ``meta.ingestions`` record: the
second finds the rows (and their record) there and loads nothing.

The lock lives where every writer of the catalog can see it:

- PostgreSQL catalog (the cluster profile; pods on different nodes share nothing else): a session-level advisory
  lock in the catalog's database, keyed by catalog and table. PostgreSQL drops it when the session ends, so a
  killed pod does not keep it; the session asks the server to probe an idle client so that a vanished node's
  lock goes within minutes too.
- SQLite catalog (the local profile: one machine, since SQLite is a file): an exclusive ``flock`` on a file
  beside the catalog database, dropped by the kernel when the process dies, however it dies.

A pessimistic lock rather than a retry that checks again: a load that widens a column rewrites the table's
files, and a concurrent append landing between that rewrite and its commit would be erased by it. Under the
lock no other civiclake sync commits to the table; other writers (maintenance, Trino) still meet Iceberg's own
conflict checks.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from civiclake.errors import CivicLakeError, ConfigurationError

log = logging.getLogger(__name__)

# A load of a large file on a slow object store takes minutes; a wait past this is a stuck run, not a slow one.
DEFAULT_WAIT_SECONDS: Final = 3600.0
_POLL_SECONDS: Final = (0.05, 1.0)  # first and longest pause between two tries
# Server-side TCP keepalive of the lock's session: a client that vanished without closing its connection (a
# node lost) is detected after about 60 + 6 x 10 s, and its lock released.
_KEEPALIVE_SETTINGS: Final = {"tcp_keepalives_idle": 60, "tcp_keepalives_interval": 10, "tcp_keepalives_count": 6}


class TableBusyError(CivicLakeError):
    """Another sync held the table's lock for longer than the wait allows."""


class TableHeldError(TableBusyError):
    """The table's lock is taken, and the caller asked not to wait for it."""


class TableLocks:
    """Locks on bronze tables for one catalog: ``with locks.hold("bronze.x"): ...``."""

    def __init__(self, catalog_uri: str, catalog_name: str, *, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> None:
        self.catalog_name = catalog_name
        self.wait_seconds = wait_seconds
        url = sa.engine.make_url(catalog_uri)
        self._engine: sa.Engine | None = None
        self._folder: Path | None = None
        if url.get_backend_name() == "postgresql":
            # A connection of its own, outside any pool: the lock is the session's, and ends with it.
            self._engine = sa.create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        elif url.get_backend_name() == "sqlite":
            database = url.database
            if not database or database == ":memory:":
                raise ConfigurationError(
                    "CIVICLAKE__CATALOG__URI: a SQLite catalog must be a file (sqlite:///path/catalog.db)"
                )
            self._folder = Path(f"{database}.locks")
        else:
            raise ConfigurationError(
                f"CIVICLAKE__CATALOG__URI: the catalog database must be SQLite or PostgreSQL, not {url.drivername}"
            )

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    @contextlib.contextmanager
    def hold(self, table: str, *, wait: bool = True) -> Iterator[None]:
        """Hold the table's lock for the block, waiting for another holder to finish; with ``wait`` False, raise
        TableHeldError at once instead (also when this process holds it through another ``hold``)."""
        key = f"civiclake-table:{self.catalog_name}:{table}"
        if self._engine is not None:
            with self._advisory_lock(table, key, wait):
                yield
        else:
            with self._file_lock(table, key, wait):
                yield

    @contextlib.contextmanager
    def _advisory_lock(self, table: str, key: str, wait: bool) -> Iterator[None]:
        assert self._engine is not None
        number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        with self._engine.connect() as connection:
            for name, value in _KEEPALIVE_SETTINGS.items():
                connection.execute(sa.text(f"SET {name} = {int(value)}"))
            try_lock = sa.text("SELECT pg_try_advisory_lock(:key)").bindparams(key=number)
            self._wait(table, lambda: bool(connection.execute(try_lock).scalar()), wait)
            try:
                yield
            finally:
                try:
                    connection.execute(sa.text("SELECT pg_advisory_unlock(:key)").bindparams(key=number))
                except sa.exc.DBAPIError:
                    # The session is gone, and its lock with it.
                    log.warning("could not release the lock on %s: its session ended", table)

    @contextlib.contextmanager
    def _file_lock(self, table: str, key: str, wait: bool) -> Iterator[None]:
        assert self._folder is not None
        self._folder.mkdir(parents=True, exist_ok=True)
        # Named by a digest: any table name makes a safe file name. The files stay: deleting a lock file while
        # another process waits on it would let a third lock a new file of the same name at the same time.
        path = self._folder / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.lock"
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:

            def try_lock() -> bool:
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return False
                return True

            self._wait(table, try_lock, wait)
            try:
                os.ftruncate(descriptor, 0)
                os.write(descriptor, f"{table} pid {os.getpid()}\n".encode())  # for whoever looks at a stuck wait
                yield
            finally:
                fcntl.flock(descriptor, fcntl.LOCK_UN)
        finally:
            os.close(descriptor)

    def _wait(self, table: str, try_lock: Callable[[], bool], wait: bool = True) -> None:
        deadline = time.monotonic() + self.wait_seconds
        pause = _POLL_SECONDS[0]
        announced = False
        while not try_lock():
            if not wait:
                raise TableHeldError(f"{table}: another holder has the table's lock")
            if not announced:
                log.info("another sync is loading %s: waiting for it to finish", table)
                announced = True
            if time.monotonic() > deadline:
                raise TableBusyError(
                    f"{table}: another sync has been loading this table for over {self.wait_seconds:g} s; "
                    "it is retried at the next run"
                )
            time.sleep(pause)
            pause = min(pause * 2, _POLL_SECONDS[1])
