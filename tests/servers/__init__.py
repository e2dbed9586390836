"""Real servers for integration tests: what only tests add to ``civiclake.servers``.

- ``postgres.running_postgres(base_dir)`` -> ``PostgresServer``
- ``debian.ensure_debian_packages(packages, binaries)`` installs what is missing instead of skipping.

MinIO, Trino and the PostgreSQL cluster itself come from ``civiclake.servers``, the launcher users run with
``civiclake dev up``; this folder adds what only tests do (installing Debian packages when they are missing).
Each server is a context manager that picks free ports, waits until the server answers, and on exit kills it and
removes its files. See README.md in this folder.
"""

from civiclake.servers.process import free_tcp_port, tail_of, wait_until

__all__ = ["free_tcp_port", "tail_of", "wait_until"]
