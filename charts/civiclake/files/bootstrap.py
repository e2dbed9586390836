"""civiclake bootstrap: the lake bucket, the Iceberg JDBC catalog tables and the Iceberg namespaces.

Run by the chart's bootstrap Job (templates/bootstrap/) with the ingest image's Python, after every install and
upgrade. Idempotent: what exists is left alone. It reads the same environment as the pipeline pods (the settings
contract of src/civiclake), so a successful bootstrap also proves that contract is wired: S3 endpoint, bucket and
credentials, catalog URL and name.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlparse

T = TypeVar("T")


def log(message: str) -> None:
    print(f"civiclake-bootstrap: {message}", flush=True)


def setting(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        log(f"missing setting {name}: the chart sets it from values and Secrets")
        sys.exit(2)
    return value


def with_retries(what: str, action: Callable[[], T], attempts: int = 30, delay_seconds: float = 5.0) -> T:
    """Retry while PostgreSQL or MinIO are still starting; the Job's backoffLimit covers longer outages."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as error:
            if attempt == attempts:
                raise
            log(f"{what}: not ready ({type(error).__name__}: {error}); retry {attempt}/{attempts}")
            time.sleep(delay_seconds)
    raise AssertionError("unreachable")


def ensure_bucket() -> None:
    from pyarrow import fs

    endpoint = urlparse(setting("CIVICLAKE__S3__ENDPOINT_URL"))
    bucket = setting("CIVICLAKE__S3__BUCKET")
    s3 = fs.S3FileSystem(
        access_key=setting("CIVICLAKE__S3__ACCESS_KEY_ID"),
        secret_key=setting("CIVICLAKE__S3__SECRET_ACCESS_KEY"),
        endpoint_override=endpoint.netloc,
        scheme=endpoint.scheme or "http",
        region=os.environ.get("CIVICLAKE__S3__REGION", "us-east-1"),
        allow_bucket_creation=True,
    )

    def create() -> None:
        if s3.get_file_info(bucket).type == fs.FileType.NotFound:
            s3.create_dir(bucket)
            log(f"bucket {bucket} created")
        else:
            log(f"bucket {bucket} already exists")

    with_retries("S3", create)


def ensure_catalog() -> None:
    from pyiceberg.catalog.sql import SqlCatalog

    name = setting("CIVICLAKE__CATALOG__NAME")
    warehouse = f"s3://{setting('CIVICLAKE__S3__BUCKET')}/{setting('CIVICLAKE_BOOTSTRAP_WAREHOUSE_PREFIX')}"
    namespaces = [ns.strip() for ns in setting("CIVICLAKE_BOOTSTRAP_NAMESPACES").split(",") if ns.strip()]

    def create() -> None:
        # Opening the SQL catalog creates its tables (iceberg_tables, iceberg_namespace_properties): Trino's JDBC
        # catalog reads them but does not create them.
        catalog = SqlCatalog(name, uri=setting("CIVICLAKE__CATALOG__URI"), warehouse=warehouse)
        for namespace in namespaces:
            catalog.create_namespace_if_not_exists(namespace)
        log(f"catalog {name}: namespaces {', '.join(namespaces)} present, warehouse {warehouse}")

    with_retries("catalog database", create)


def main() -> int:
    ensure_bucket()
    ensure_catalog()
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
