"""The cluster profile's servers for the test suite: ``civiclake.servers.stack`` (what `civiclake dev up` runs),
after installing PostgreSQL's Debian package if it is missing, rather than skipping."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from civiclake.privacy.keys import KEY_VARIABLE
from civiclake.servers.stack import ClusterServers, running_cluster

from .postgres import ensure_postgres_installed


@contextmanager
def running_cluster_servers(base_dir: Path) -> Iterator[ClusterServers]:
    """PostgreSQL, MinIO and Trino as the chart configures them, stopped and deleted when the block exits."""
    ensure_postgres_installed()
    with running_cluster(base_dir) as servers:
        yield servers


def fresh_cluster_lakehouse(cluster: ClusterServers) -> dict[str, str]:
    """The cluster profile's variables for an empty lakehouse on the suite's servers: lake and warehouse in a new
    MinIO bucket, the catalog in a new PostgreSQL database (``CIVICLAKE_HOME`` is left to the caller)."""
    name = f"lake{uuid.uuid4().hex[:12]}"
    cluster.minio.create_bucket(name)
    cluster.postgres.create_database(name)
    return {
        "CIVICLAKE_PROFILE": "cluster",
        "CIVICLAKE__S3__ENDPOINT_URL": cluster.minio.endpoint_url,
        "CIVICLAKE__S3__BUCKET": name,
        "CIVICLAKE__S3__REGION": cluster.minio.region,
        "CIVICLAKE__S3__ACCESS_KEY_ID": cluster.minio.access_key_id,
        "CIVICLAKE__S3__SECRET_ACCESS_KEY": cluster.minio.secret_access_key,
        "CIVICLAKE__CATALOG__URI": cluster.postgres.sqlalchemy_url(name),
        # Its own pseudonymisation key, as a pod gets one from the chart's Secret.
        KEY_VARIABLE: secrets.token_hex(32),
    }
