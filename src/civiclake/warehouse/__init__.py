"""The warehouse: the Iceberg catalog, bronze loading, meta tables, sync state and local SQL."""
