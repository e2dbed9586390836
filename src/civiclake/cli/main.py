"""``civiclake``: sync sources, query the warehouse, check freshness.

Exit codes: 0 success; 1 some resources failed (the others were loaded); 2 bad usage or configuration.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click
from rich.console import Console

from civiclake.config import Settings, load_settings
from civiclake.errors import ConfigurationError, IdentifierError
from civiclake.sources import SOURCES

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2

# Piped output (CI logs, `| less`) gets wide tables rather than rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 160)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def _handles_configuration_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (ConfigurationError, IdentifierError) as error:
            errors.print(f"[bold red]configuration error:[/] {error}")
            sys.exit(EXIT_USAGE)

    return wrapper


def _settings(context: click.Context) -> Settings:
    settings = context.obj.get("settings")
    if settings is None:
        settings = context.obj["settings"] = load_settings()
    return settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="civiclake")
@click.pass_context
def cli(context: click.Context) -> None:
    """civiclake: messy public and business data in, historised and tested SQL tables out."""
    context.ensure_object(dict)


@cli.command()
@click.option("--source", "sources", multiple=True, type=click.Choice(SOURCES), help="Only these sources.")
@click.option("--dataset", "datasets", multiple=True, metavar="ID", help="A dataset id or slug (repeatable).")
@click.option("--query", help="A data.gouv.fr search (words ANDed).")
@click.option("--organization", help="Datasets of this organisation (id or slug).")
@click.option("--tag", "tags", multiple=True, help="Datasets with this tag (repeatable: all must match).")
@click.option("--full-refresh", is_flag=True, help="Download again even what has not changed at the source.")
@click.pass_context
@_handles_configuration_errors
def sync(
    context: click.Context,
    sources: tuple[str, ...],
    datasets: tuple[str, ...],
    query: str | None,
    organization: str | None,
    tags: tuple[str, ...],
    full_refresh: bool,
) -> None:
    """Sync registered sources (or the datasets named here) into the raw lake and bronze tables."""
    from civiclake.commands import connectors_for, run_sync

    settings = _settings(context)
    connectors = connectors_for(settings, list(sources), list(datasets), query, organization, list(tags))
    report = run_sync(settings, connectors, console, full_refresh=full_refresh)
    sys.exit(report.exit_code)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@_handles_configuration_errors
def tables(context: click.Context, as_json: bool) -> None:
    """Iceberg tables: name, rows, source, dataset, resource, snapshot, last update."""
    from civiclake.catalog_views import list_tables
    from civiclake.cli.render import tables_table
    from civiclake.warehouse.catalog import open_catalog

    found = list_tables(open_catalog(_settings(context)))
    if as_json:
        click.echo(json.dumps([info.as_dict() for info in found], indent=2))
    else:
        console.print(tables_table(found))


@cli.command()
@click.argument("statement")
@click.option("--format", "output_format", type=click.Choice(["table", "csv", "json"]), default="table")
@click.pass_context
@_handles_configuration_errors
def sql(context: click.Context, statement: str, output_format: str) -> None:
    """Run a SQL statement on the warehouse (DuckDB over the Iceberg tables)."""
    import duckdb

    from civiclake.cli.render import query_output
    from civiclake.warehouse.catalog import open_catalog
    from civiclake.warehouse.duck import connect

    settings = _settings(context)
    connection = connect(settings, open_catalog(settings))
    try:
        result = connection.execute(statement)
        columns = [column[0] for column in result.description or []]
        rows = result.fetchall() if columns else []
    except duckdb.Error as error:
        errors.print(f"[bold red]SQL error:[/] {error}")
        sys.exit(EXIT_USAGE)
    output = query_output(columns, rows, output_format)
    if isinstance(output, str):
        click.echo(output, nl=not output.endswith("\n"))
    else:
        console.print(output)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@_handles_configuration_errors
def status(context: click.Context, as_json: bool) -> None:
    """Per dataset: last success, rows, freshness against its declared frequency, errors."""
    from civiclake.catalog_views import dataset_statuses
    from civiclake.cli.render import status_table
    from civiclake.warehouse.catalog import open_catalog
    from civiclake.warehouse.state import SyncState

    settings = _settings(context)
    state = SyncState(settings.catalog_uri)
    try:
        statuses = dataset_statuses(open_catalog(settings), state)
    finally:
        state.close()
    if as_json:
        click.echo(json.dumps([item.as_dict() for item in statuses], indent=2, ensure_ascii=False))
    else:
        console.print(status_table(statuses))


@cli.command()
@click.pass_context
@_handles_configuration_errors
def demo(context: click.Context) -> None:
    """Offline: serve the bundled catalogue, sync it, and show what landed."""
    from civiclake.demo.run import run_demo

    sys.exit(run_demo(_settings(context), console))


@cli.command("mirror")
@click.option("--port", default=8765, show_default=True)
def mirror(port: int) -> None:
    """Serve the bundled data.gouv.fr catalogue on localhost (point CIVICLAKE__DATAGOUV__API_URL at it)."""
    import time

    from civiclake.demo.mirror.server import MirrorServer

    with MirrorServer(port=port) as server:
        console.print(f"data.gouv.fr mirror: export CIVICLAKE__DATAGOUV__API_URL={server.api_url}  (Ctrl-C stops)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


@cli.command("metrics")
@click.option("--port", default=9464, show_default=True)
@click.option("--address", default="127.0.0.1", show_default=True)
@click.pass_context
@_handles_configuration_errors
def metrics(context: click.Context, port: int, address: str) -> None:
    """Serve freshness, failure streaks and Iceberg table stats for Prometheus on http://ADDRESS:PORT/metrics."""
    import time

    from prometheus_client import CollectorRegistry

    from civiclake.observability.metrics import LakeCollector, serve_metrics
    from civiclake.warehouse.catalog import open_catalog
    from civiclake.warehouse.state import SyncState

    settings = _settings(context)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LakeCollector(lambda: (open_catalog(settings), SyncState(settings.catalog_uri))))
    server, _ = serve_metrics(registry, port, addr=address)
    console.print(f"civiclake metrics on http://{address}:{port}/metrics  (Ctrl-C stops)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()


@cli.group()
def generate() -> None:
    """Fill a source with seeded, realistic data (the same seed gives the same data)."""


@cli.group()
def replay() -> None:
    """Replay a dataset into a landing zone as time-ordered micro-batches."""


@cli.group()
def serve() -> None:
    """Serve a demo source on localhost (Ctrl-C stops)."""


def main() -> None:
    cli(obj={})
