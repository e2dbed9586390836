"""Real servers for integration tests: PostgreSQL 15 and a single-node Ceph radosgw (S3).

- ``postgres.running_postgres(base_dir)`` -> ``PostgresServer``
- ``radosgw.running_radosgw(base_dir)`` -> ``S3Server``
- ``debian.ensure_debian_packages(packages, binaries)`` installs what is missing instead of skipping.

MinIO, Trino and the PostgreSQL cluster itself come from ``civiclake.servers``, the launcher users run with
``civiclake dev up``; this folder adds what only tests do (installing Debian packages, Ceph's radosgw).
Each server is a context manager that picks free ports, waits until the server answers, and on exit kills it and
removes its files. See README.md in this folder.
"""

from civiclake.servers.process import free_tcp_port, tail_of, wait_until

__all__ = ["free_tcp_port", "tail_of", "wait_until"]
