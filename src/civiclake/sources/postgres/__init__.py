"""The PostgreSQL source: incremental, snapshot-consistent extraction of OLTP tables (ShopStream by default).

``connector.py`` reads each configured table from the saved ``(updated_at, id)`` cursor into Parquet, with
tombstones for hard deletes (``keys.py``); ``columns.py`` maps column types to Arrow; ``shopstream/`` holds the
schema and the seeded generator the source is demonstrated and tested with.
"""

from civiclake.sources.postgres.connector import (
    DELETED_COLUMN,
    ExtractionCursor,
    PostgresConnector,
    PostgresUnavailableError,
)

__all__ = ["DELETED_COLUMN", "ExtractionCursor", "PostgresConnector", "PostgresUnavailableError"]
