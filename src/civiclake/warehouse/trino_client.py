"""The cluster's Trino as the dbt pods reach it: ``TRINO_HOST``, ``TRINO_PORT``, ``TRINO_USER``,
``TRINO_CATALOG``, ``TRINO_HTTP_SCHEME`` (the chart sets them in the dbt pod template; `civiclake dev up` prints
them)."""

from __future__ import annotations

from typing import Any

from civiclake.errors import ConfigurationError
from civiclake.warehouse.maintenance import TrinoEndpoint


def trino_connection(source: str, environ: dict[str, str] | None = None) -> Any:
    """A DB-API connection to the cluster's Trino, its queries tagged with ``source`` (seen in Trino's UI)."""
    return connect_trino(TrinoEndpoint.from_environment(environ), source)


def connect_trino(endpoint: TrinoEndpoint, source: str, session_properties: dict[str, str] | None = None) -> Any:
    """A DB-API connection to ``endpoint``; the one place civiclake opens Trino connections."""
    try:
        import trino
    except ImportError:
        raise ConfigurationError("Trino queries need the trino client: pip install 'civiclake[cluster]'") from None
    return trino.dbapi.connect(
        host=endpoint.host,
        port=endpoint.port,
        user=endpoint.user,
        catalog=endpoint.catalog,
        http_scheme=endpoint.http_scheme,
        source=source,
        session_properties=session_properties or {},
    )
