"""The Iceberg catalog: pyiceberg's SQL catalog, on SQLite locally and PostgreSQL on the cluster.

On PostgreSQL this is the same schema as Iceberg's JDBC catalog, so Trino reads what civiclake writes
(``iceberg.catalog.type=jdbc`` with ``iceberg.jdbc-catalog.catalog-name`` equal to our catalog name).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from pyiceberg.catalog.sql import SqlCatalog

from civiclake.config import HOME_VARIABLE, Settings
from civiclake.errors import ConfigurationError
from civiclake.lake.filesystem import S3_CLIENT_ENVIRONMENT, warehouse_storage
from civiclake.redaction import redact_url

NAMESPACES = ("bronze", "meta")
T = TypeVar("T")


def catalog_properties(settings: Settings) -> dict[str, str]:
    properties = {"uri": settings.catalog_uri, "warehouse": warehouse_storage(settings).uri_prefix}
    if settings.profile == "cluster":
        for name, value in S3_CLIENT_ENVIRONMENT.items():
            os.environ.setdefault(name, value)
        s3 = settings.s3
        properties["s3.region"] = s3.region
        if s3.endpoint_url:
            properties["s3.endpoint"] = s3.endpoint_url
        if s3.access_key_id and s3.secret_access_key:
            properties["s3.access-key-id"] = s3.access_key_id.get_secret_value()
            properties["s3.secret-access-key"] = s3.secret_access_key.get_secret_value()
    return properties


def open_catalog(settings: Settings) -> SqlCatalog:
    try:
        settings.home.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigurationError(f"{HOME_VARIABLE} {settings.home} cannot be used: {error}") from None
    uri = settings.catalog_uri
    try:
        catalog = first_setup_retried(lambda: _open(settings))
    except sa.exc.SQLAlchemyError as error:
        # The driver's own first line says why (refused, unknown host, bad password); SQLAlchemy's wrapping
        # repeats the statement and a link. The URL is shown without its password.
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        setting = "CIVICLAKE__CATALOG__URI" if settings.catalog.uri is not None else HOME_VARIABLE
        raise ConfigurationError(
            f"cannot open the Iceberg catalog database {redact_url(uri)} ({setting}): {reason}"
        ) from None
    return catalog


def _open(settings: Settings) -> SqlCatalog:
    catalog = SqlCatalog(settings.catalog.name, **catalog_properties(settings))
    for namespace in NAMESPACES:
        catalog.create_namespace_if_not_exists(namespace)
    return catalog


def first_setup_retried(setup: Callable[[], T], attempts: int = 3) -> T:
    """Run ``setup`` (look whether tables or rows exist, create them if not), again if it loses a race.

    Two processes opening a new catalog database at once both see a table or namespace missing and both create
    it; the second gets an error for a duplicate (a duplicate key, or a table that already exists). Looking
    again then finds what the first made.
    """
    for attempt in range(1, attempts + 1):
        try:
            return setup()
        except (sa.exc.IntegrityError, sa.exc.ProgrammingError, sa.exc.OperationalError):
            if attempt == attempts:
                raise
            time.sleep(0.1 * attempt)
    raise AssertionError("unreachable: the loop returns or raises")
