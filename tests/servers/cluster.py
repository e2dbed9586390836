"""The cluster profile's servers for the test suite: ``civiclake.servers.stack`` (what `civiclake dev up` runs),
after installing PostgreSQL's Debian package if it is missing, rather than skipping."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from civiclake.servers.stack import ClusterServers, running_cluster

from .postgres import ensure_postgres_installed


@contextmanager
def running_cluster_servers(base_dir: Path) -> Iterator[ClusterServers]:
    """PostgreSQL, MinIO and Trino as the chart configures them, stopped and deleted when the block exits."""
    ensure_postgres_installed()
    with running_cluster(base_dir) as servers:
        yield servers
