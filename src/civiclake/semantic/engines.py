"""Where the semantic layer's SQL runs, per profile, and where its metric definitions come from."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from civiclake.config import Settings
from civiclake.errors import ConfigurationError
from civiclake.semantic.layer import SEMANTIC_MANIFEST, MetricQueryError
from civiclake.transform.project import DbtProject

Runner = Callable[[str], tuple[list[str], list[tuple[Any, ...]]]]
_DEFINITION_SUFFIXES = (".yml", ".yaml", ".sql")


def semantic_manifest(project: DbtProject, on_line: Callable[[str], None] | None = None) -> Path:
    """dbt's semantic manifest for this project, parsed again when a model or its YAML changed since."""
    path = project.target_path / SEMANTIC_MANIFEST
    if not path.is_file() or _newest_definition(project.project_dir) > path.stat().st_mtime:
        output: list[str] = []
        if project.run(["parse"], on_line=output.append) != 0:
            for line in output:
                if on_line is not None:
                    on_line(line)
            raise MetricQueryError(f"dbt parse failed for the project in {project.project_dir} (output above)")
    return path


def _newest_definition(project_dir: Path) -> float:
    newest = (project_dir / "dbt_project.yml").stat().st_mtime
    for path in (project_dir / "models").rglob("*"):
        if path.suffix in _DEFINITION_SUFFIXES:
            newest = max(newest, path.stat().st_mtime)
    return newest


@contextmanager
def engine_runner(settings: Settings, engine: str) -> Iterator[Runner]:
    """Runs a statement on the profile's engine: the read-only DuckDB session over the Iceberg tables (as
    ``civiclake sql``), or the cluster's Trino (``TRINO_*``, as the dbt pods)."""
    if engine == "duckdb":
        import duckdb

        from civiclake.warehouse.catalog import open_catalog
        from civiclake.warehouse.duck import connect_read_only

        with closing(connect_read_only(settings, open_catalog(settings))) as connection:

            def run_duckdb(sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
                try:
                    result = connection.execute(sql)
                    return [column[0] for column in result.description or []], result.fetchall()
                except duckdb.Error as error:
                    raise MetricQueryError(f"DuckDB could not run the metric query: {error}") from None

            yield run_duckdb
    elif engine == "trino":
        from civiclake.warehouse.trino_client import trino_connection

        try:
            connection = trino_connection("civiclake-metric")
        except ConfigurationError as error:
            raise ConfigurationError(
                f"metric queries on the cluster profile run on Trino: set TRINO_HOST (and TRINO_PORT, TRINO_USER, "
                f"TRINO_CATALOG), as `civiclake dev up` prints them ({error})"
            ) from None
        with closing(connection):

            def run_trino(sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
                from trino.exceptions import TrinoQueryError

                cursor = connection.cursor()
                try:
                    cursor.execute(sql)
                    rows = [tuple(row) for row in cursor.fetchall()]
                except TrinoQueryError as error:
                    raise MetricQueryError(f"Trino could not run the metric query: {error.message}") from None
                except OSError as error:
                    raise MetricQueryError(f"cannot reach Trino for the metric query: {error}") from None
                return [column[0] for column in cursor.description or []], rows

            yield run_trino
    else:
        raise ConfigurationError(f"the semantic layer runs on duckdb or trino, not {engine!r}")
