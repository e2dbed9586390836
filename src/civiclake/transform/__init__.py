"""Silver and gold: the dbt project run on the active profile, and its results published as Iceberg tables.

- ``project``: where the dbt project is, where its run writes (all under ``CIVICLAKE_HOME/dbt``), which target.
- ``duckdb_database``: the DuckDB file dbt runs in locally, with views over the bronze and meta Iceberg tables.
- ``runner``: ``civiclake transform``: prepare, ``dbt build`` (skipping models whose bronze tables are absent),
  metrics, publish.
- ``publish``: every silver and gold relation dbt built in DuckDB written to Iceberg, one commit per table.
- ``staging``: ``civiclake dbt generate``: a typed staging view per data.gouv.fr bronze table.
- ``trino_check``: the models rendered by dbt-trino without a server, and parsed as Trino SQL.
"""
