"""``civiclake``: sync sources, query the warehouse, check freshness.

Exit codes: 0 success; 1 some resources failed (the others were loaded); 2 bad usage or configuration.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from civiclake.config import Settings, load_settings
from civiclake.errors import ConfigurationError, IdentifierError
from civiclake.redaction import redact_text
from civiclake.sources import SOURCES

# pyarrow loads numpy, whose BLAS starts one spinning thread per core; civiclake does no linear algebra, and
# the threads cost a tenth of a CPU second per command (profiled), taken from the loaders. Read at numpy's
# import, which comes later; an operator's own value is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells and schedulers expect of a process stopped by Ctrl-C

# Piped output (CI logs, `| less`) gets wide tables rather than rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 160)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def _handles_configuration_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (ConfigurationError, IdentifierError) as error:
            errors.print(f"[bold red]configuration error:[/] {escape(redact_text(str(error)))}")
            sys.exit(EXIT_USAGE)

    return wrapper


def _settings(context: click.Context) -> Settings:
    settings = context.obj.get("settings")
    if settings is None:
        settings = context.obj["settings"] = load_settings()
    return settings


def _lakehouse(context: click.Context) -> Settings:
    """The settings of a command that reads a lakehouse: on the local profile one must already be there. Run from
    the wrong folder, a read command says so (as git says "not a git repository") instead of making an empty
    lakehouse wherever it ran."""
    settings = _settings(context)
    if settings.profile == "local" and settings.catalog.uri is None and not settings.local_catalog_file.is_file():
        raise ConfigurationError(
            f"no lakehouse in {settings.home.resolve()}: run civiclake from the folder that holds .civiclake, "
            f"set CIVICLAKE_HOME to it, or make one here with `civiclake demo` or `civiclake sync`"
        )
    return settings


def _say_where(settings: Settings) -> None:
    console.print(f"[dim]lakehouse {settings.home.resolve()} ({settings.profile} profile)[/]")


class _Commands(click.Group):
    """Click turns Ctrl-C into "Aborted!" and exit status 1, the status of a partial failure here; an interrupted
    command exits 130 instead. Commands that serve until Ctrl-C catch it themselves and exit 0."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            errors.print(f"\n[bold red]interrupted:[/] civiclake {ctx.invoked_subcommand or ''} stopped by Ctrl-C")
            ctx.exit(EXIT_INTERRUPTED)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
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
@click.option(
    "--summary-json",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="CIVICLAKE_SUMMARY_JSON",
    help="Also write a JSON summary (status, rows, tables, errors) there; Airflow reads it as the task's XCom.",
)
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
    summary_json: Path | None,
) -> None:
    """Sync registered sources (or the datasets named here) into the raw lake and bronze tables."""
    from civiclake.cli.reports import sync_summary, write_summary
    from civiclake.commands import connectors_for, run_sync

    settings = _settings(context)
    connectors = connectors_for(settings, list(sources), list(datasets), query, organization, list(tags))
    report = run_sync(settings, connectors, console, full_refresh=full_refresh)
    write_summary(summary_json, sync_summary(report))
    sys.exit(report.exit_code)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@_handles_configuration_errors
def tables(context: click.Context, as_json: bool) -> None:
    """Iceberg tables: name, rows, source, last update (--json: also the snapshot, dataset and resource ids)."""
    from civiclake.catalog_views import list_tables
    from civiclake.cli.render import tables_table
    from civiclake.warehouse.catalog import open_catalog

    settings = _lakehouse(context)
    found = list_tables(open_catalog(settings))
    if as_json:
        click.echo(json.dumps([info.as_dict() for info in found], indent=2))
    else:
        _say_where(settings)
        console.print(tables_table(found, console.width))


@cli.command()
@click.argument("statement")
@click.option("--format", "output_format", type=click.Choice(["table", "csv", "json"]), default="table")
@click.pass_context
@_handles_configuration_errors
def sql(context: click.Context, statement: str, output_format: str) -> None:
    """Run a query on the warehouse (DuckDB over the Iceberg tables). Read-only: statements that write, and reads
    of files outside the lakehouse's tables, are refused."""
    import duckdb

    from civiclake.cli.render import query_output
    from civiclake.warehouse.catalog import open_catalog
    from civiclake.warehouse.duck import READ_ONLY_HINT, ReadOnlyConsoleError, check_read_only, connect_read_only

    settings = _lakehouse(context)
    connection = connect_read_only(settings, open_catalog(settings))
    try:
        check_read_only(connection, statement)
        result = connection.execute(statement)
        columns = [column[0] for column in result.description or []]
        rows = result.fetchall() if columns else []
    except ReadOnlyConsoleError as error:
        errors.print(f"[bold red]refused:[/] {escape(str(error))}")
        sys.exit(EXIT_USAGE)
    except duckdb.PermissionException as error:
        errors.print(f"[bold red]refused:[/] {escape(str(error))}; {READ_ONLY_HINT}, over the lakehouse's tables")
        sys.exit(EXIT_USAGE)
    except duckdb.Error as error:
        errors.print(f"[bold red]SQL error:[/] {escape(str(error))}")
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

    settings = _lakehouse(context)
    state = SyncState(settings.catalog_uri)
    try:
        statuses = dataset_statuses(open_catalog(settings), state)
    finally:
        state.close()
    if as_json:
        click.echo(json.dumps([item.as_dict() for item in statuses], indent=2, ensure_ascii=False))
    else:
        _say_where(settings)
        console.print(status_table(statuses, console.width))


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

    settings = _lakehouse(context)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LakeCollector(lambda: (open_catalog(settings), SyncState(settings.catalog_uri))))
    server, _ = serve_metrics(registry, port, addr=address)
    console.print(f"civiclake metrics on http://{address}:{port}/metrics  (Ctrl-C stops)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()


# --- Iceberg upkeep (the lake_maintenance DAG) ------------------------------------------------------------------


@cli.group(invoke_without_command=True)
@click.option("--table", "tables", multiple=True, metavar="NS.NAME", help="Only these tables (default: every one).")
@click.option(
    "--engine",
    type=click.Choice(["auto", "pyiceberg", "trino"]),
    default="auto",
    show_default=True,
    help="auto: pyiceberg on the local profile, Trino's procedures on the cluster profile.",
)
@click.option("--dry-run", is_flag=True, help="Say what would change; change nothing.")
@click.option(
    "--summary-json",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="CIVICLAKE_SUMMARY_JSON",
    help="Also write a JSON summary there (Airflow reads it as the task's XCom).",
)
@click.pass_context
def maintain(
    context: click.Context, tables: tuple[str, ...], engine: str, dry_run: bool, summary_json: Path | None
) -> None:
    """Iceberg upkeep: compact small files, expire old snapshots, remove orphan files (all three without a
    subcommand)."""
    context.obj["maintain"] = {"tables": tables, "engine": engine, "dry_run": dry_run, "summary_json": summary_json}
    if context.invoked_subcommand is None:
        codes = [context.invoke(command) for command in (maintain_compact, maintain_expire, maintain_orphans)]
        sys.exit(max(codes))


def _maintain(context: click.Context, action: str, **options: Any) -> int:
    from civiclake.cli.reports import maintenance_table, write_summary
    from civiclake.warehouse.catalog import open_catalog
    from civiclake.warehouse.maintenance import run_maintenance_command

    group = context.obj["maintain"]
    settings = _lakehouse(context)
    report = run_maintenance_command(
        settings,
        open_catalog(settings),
        action,
        tables=list(group["tables"]),
        engine=group["engine"],
        dry_run=group["dry_run"],
        **options,
    )
    console.print(maintenance_table(report))
    write_summary(group["summary_json"], report.summary())
    return report.exit_code


@maintain.command("compact")
@click.option("--small-file-mb", default=32, show_default=True, help="Files smaller than this are compacted.")
@click.option("--target-file-mb", default=128, show_default=True, help="Size of the files compaction writes.")
@click.option("--min-files", default=5, show_default=True, help="Partitions with fewer small files are left alone.")
@click.pass_context
@_handles_configuration_errors
def maintain_compact(
    context: click.Context, small_file_mb: int = 32, target_file_mb: int = 128, min_files: int = 5
) -> int:
    """Rewrite the small files of each partition into larger ones (rows unchanged)."""
    code = _maintain(
        context,
        "compact",
        small_file_bytes=small_file_mb * 1024 * 1024,
        target_file_bytes=target_file_mb * 1024 * 1024,
        min_input_files=min_files,
    )
    return _exit_or_return(context, code)


@maintain.command("expire-snapshots")
@click.option("--older-than-days", default=7, show_default=True, help="Snapshots older than this are expired.")
@click.option("--retain-last", default=5, show_default=True, help="The newest snapshots always kept.")
@click.pass_context
@_handles_configuration_errors
def maintain_expire(context: click.Context, older_than_days: int = 7, retain_last: int = 5) -> int:
    """Forget old snapshots (their files become orphans, removed by remove-orphans)."""
    from datetime import timedelta

    code = _maintain(
        context, "expire-snapshots", snapshot_older_than=timedelta(days=older_than_days), retain_last=retain_last
    )
    return _exit_or_return(context, code)


@maintain.command("remove-orphans")
@click.option("--older-than-hours", default=168, show_default=True, help="Younger unreferenced files are kept.")
@click.pass_context
@_handles_configuration_errors
def maintain_orphans(context: click.Context, older_than_hours: int = 168) -> int:
    """Delete files under a table's location that no snapshot or metadata file references any more."""
    from datetime import timedelta

    code = _maintain(context, "remove-orphans", orphan_older_than=timedelta(hours=older_than_hours))
    return _exit_or_return(context, code)


def _exit_or_return(context: click.Context, code: int) -> int:
    # Run as a subcommand: exit with the code. Invoked by `civiclake maintain` itself: give it back.
    if context.parent is not None and context.parent.invoked_subcommand is not None:
        sys.exit(code)
    return code


@cli.command("source-freshness")
@click.pass_context
@_handles_configuration_errors
def source_freshness(context: click.Context) -> None:
    """dbt source freshness on the active profile: are the bronze tables dbt reads recent enough? (The first step
    of the warehouse_build DAG; exit 1 when a source is past its error threshold.)"""
    from civiclake.transform.duckdb_database import prepare_duckdb_database
    from civiclake.transform.project import DbtProject
    from civiclake.transform.runner import missing_sources
    from civiclake.warehouse.catalog import open_catalog

    settings = _lakehouse(context)
    catalog = open_catalog(settings)
    project = DbtProject.from_settings(settings)
    if project.target == "duckdb":
        prepare_duckdb_database(catalog, project.duckdb_path, project.extensions_dir)
    echo = lambda line: console.out(line, highlight=False)  # noqa: E731
    if project.run(["parse"], on_line=echo) != 0:
        sys.exit(EXIT_USAGE)
    # Sources not synced into this lakehouse have no table to be fresh or stale: `transform` skips them too.
    missing = missing_sources(project.manifest(), catalog)
    exclusions = ["--exclude", *(f"source:{name}" for name in missing)] if missing else []
    exit_code = project.run(["source", "freshness", *exclusions], on_line=echo)
    sys.exit(EXIT_OK if exit_code == 0 else EXIT_PARTIAL if exit_code == 1 else EXIT_USAGE)


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--full", is_flag=True, help="Build every model, even when no bronze table changed since the last build.")
@click.argument("dbt_arguments", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
@_handles_configuration_errors
def transform(context: click.Context, full: bool, dbt_arguments: tuple[str, ...]) -> None:
    """dbt build on the active profile: silver and gold. Arguments after -- go to dbt (-- --select dim_station+).

    Only what changed is built: nothing when no bronze table and no model changed since the last successful
    build, what reads the changed bronze tables otherwise (--full: everything). Locally, dbt runs on DuckDB
    over the bronze Iceberg tables and the silver and gold tables built are then published to Iceberg; on the
    cluster profile dbt runs on Trino.
    """
    from civiclake.cli.render import transform_summary
    from civiclake.transform.project import TransformError
    from civiclake.transform.runner import run_transform

    try:
        report = run_transform(_lakehouse(context), console, list(dbt_arguments), full=full)
    except TransformError as error:
        errors.print(f"[bold red]transform failed:[/] {error}")
        sys.exit(EXIT_PARTIAL)
    console.print(transform_summary(report))
    sys.exit(report.exit_code)


@cli.command("docs")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="Port on 127.0.0.1.")
@click.option(
    "--no-serve", "--generate-only", "generate_only", is_flag=True, help="Build the site, print where, do not serve."
)
@click.pass_context
@_handles_configuration_errors
def docs(context: click.Context, port: int, generate_only: bool) -> None:
    """The data catalogue: dbt docs generate on the active profile, then the site on http://127.0.0.1:PORT
    (models, columns, descriptions, lineage) until Ctrl-C."""
    from civiclake.transform.docs import LOCALHOST, DocsServer, generate_docs
    from civiclake.transform.project import TransformError

    # The port first: a port in use is known in a millisecond, the site takes a minute to build.
    server = None
    if not generate_only:
        try:
            server = DocsServer(port, Path(os.devnull))
        except OSError as error:
            errors.print(
                f"[bold red]configuration error:[/] --port {port}: cannot listen on {LOCALHOST}: {error.strerror}"
            )
            sys.exit(EXIT_USAGE)
    try:
        site = generate_docs(_settings(context), console)
    except TransformError as error:
        errors.print(f"[bold red]docs failed:[/] {error}")
        sys.exit(EXIT_PARTIAL)
    console.print(
        f"dbt docs in {site.directory} (index.html, manifest.json, catalog.json): {site.models} models, "
        f"{site.built} built in this lakehouse",
        soft_wrap=True,
    )
    if site.built == 0:
        console.print("[yellow]no model is built here yet: run `civiclake transform` for their columns and types[/]")
    if server is None:
        return
    server.directory = site.directory
    console.print(f"serving the docs on http://{LOCALHOST}:{server.server_port}/  (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@cli.command("run")
@click.option("--full-refresh", is_flag=True, help="Download again even what has not changed at the source.")
@click.option("--full-build", is_flag=True, help="Build every dbt model, even when no bronze table changed.")
@click.pass_context
@_handles_configuration_errors
def run_all(context: click.Context, full_refresh: bool, full_build: bool) -> None:
    """The scheduled job: sync every configured source, then build and test silver and gold (dbt): what the
    sync changed, nothing when it changed nothing.

    The transform runs even when some resources failed: what did load is modelled, and the exit code
    (the worse of the two steps) says that something needs a look.
    """
    from civiclake.cli.render import transform_summary
    from civiclake.commands import connectors_for, run_sync
    from civiclake.transform.project import TransformError
    from civiclake.transform.runner import run_transform

    settings = _settings(context)
    report = run_sync(settings, connectors_for(settings, [], []), console, full_refresh=full_refresh)
    try:
        transform = run_transform(settings, console, full=full_build)
    except TransformError as error:
        errors.print(f"[bold red]transform failed:[/] {error}")
        sys.exit(EXIT_PARTIAL)
    console.print(transform_summary(transform))
    sys.exit(max(report.exit_code, transform.exit_code))


@cli.group("dbt")
def dbt_group() -> None:
    """The dbt project: generated staging models, the Trino check."""


@dbt_group.command("generate")
@click.option("--prune", is_flag=True, help="Also remove generated models whose bronze table no longer exists.")
@click.pass_context
@_handles_configuration_errors
def dbt_generate(context: click.Context, prune: bool) -> None:
    """Write a typed staging view (stg_datagouv__*) for every data.gouv.fr bronze table not staged by hand."""
    from civiclake.transform.project import DbtProject
    from civiclake.transform.staging import generate_datagouv_staging, model_names
    from civiclake.warehouse.catalog import open_catalog
    from civiclake.warehouse.duck import connect

    settings = _lakehouse(context)
    project = DbtProject.from_settings(settings)
    catalog = open_catalog(settings)
    report = generate_datagouv_staging(catalog, project.project_dir, connect(settings, catalog), prune=prune)
    console.print(
        f"{len(list(model_names(report)))} generated staging models in {project.generated_staging_dir}: "
        f"{len(report.written)} files written, {len(report.unchanged)} unchanged, {len(report.removed)} removed"
    )
    for name in report.written + report.removed:
        console.print(f"  {'removed' if name in report.removed else 'written'} {name}")


@dbt_group.command("check-trino")
@click.pass_context
@_handles_configuration_errors
def dbt_check_trino(context: click.Context) -> None:
    """Without a Trino server: render every model with dbt-trino and parse the SQL as Trino's dialect."""
    import time

    from civiclake.transform.project import DbtProject, TransformError
    from civiclake.transform.trino_check import check_trino_sql

    settings = _settings(context)
    project = DbtProject.from_settings(settings.with_overrides(transform={"target": "trino"}))
    started = time.monotonic()

    def progress(step: str) -> None:
        console.print(f"[dim]{time.monotonic() - started:5.1f} s[/] {step}", highlight=False, soft_wrap=True)

    try:
        report = check_trino_sql(project, progress)
    except TransformError as error:
        errors.print(f"[bold red]Trino check failed:[/] {error}")
        sys.exit(EXIT_PARTIAL)
    for problem in report.problems:
        errors.print(f"[red]{problem}[/]")
    console.print(
        f"{report.parsed} compiled statements parse as Trino SQL, {len(report.problems)} do not "
        f"({time.monotonic() - started:.0f} s)"
    )
    sys.exit(EXIT_PARTIAL if report.problems else EXIT_OK)


@cli.group("metric")
def metric_group() -> None:
    """The semantic layer: business metrics defined once in dbt (MetricFlow), queried on the active profile
    (DuckDB over the Iceberg tables locally, Trino on the cluster)."""


def _semantic_layer(context: click.Context) -> tuple[Settings, Any]:
    from civiclake.semantic.engines import semantic_manifest
    from civiclake.semantic.layer import SemanticLayer
    from civiclake.transform.project import DbtProject

    settings = _lakehouse(context)
    project = DbtProject.from_settings(settings)
    echo = lambda line: errors.out(line, highlight=False)  # noqa: E731
    return settings, SemanticLayer(semantic_manifest(project, on_line=echo), project.target)


@metric_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output, with each metric's group-bys.")
@click.pass_context
@_handles_configuration_errors
def metric_list(context: click.Context, as_json: bool) -> None:
    """The metrics, their type and description (--json: also what each can be grouped by)."""
    from dataclasses import asdict

    from rich.table import Table

    from civiclake.semantic.layer import MetricQueryError

    try:
        _, layer = _semantic_layer(context)
        infos = layer.metrics()
    except MetricQueryError as error:
        errors.print(f"[bold red]metric list failed:[/] {escape(str(error))}")
        sys.exit(EXIT_PARTIAL)
    if as_json:
        click.echo(json.dumps([asdict(info) for info in infos], indent=2))
        return
    table = Table(show_lines=False)
    for column in ("metric", "type", "description"):
        table.add_column(column, overflow="fold")
    for info in infos:
        table.add_row(info.name, info.kind, info.description)
    console.print(table)


@metric_group.command("query")
@click.option("--metrics", "metric_names", multiple=True, required=True, metavar="M[,M]", help="Metrics to compute.")
@click.option(
    "--group-by",
    "group_bys",
    multiple=True,
    metavar="D[,D]",
    help="Dimensions or entities (metric_time__week, incident__priority, product__category, ...).",
)
@click.option(
    "--where",
    "where",
    multiple=True,
    help="A filter in MetricFlow's syntax, e.g. \"{{ Dimension('incident__priority') }} = 1\" (repeatable: ANDed).",
)
@click.option("--order-by", "order_by", multiple=True, metavar="N[,N]", help="Order by these (-name: descending).")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many rows.")
@click.option("--format", "output_format", type=click.Choice(["table", "csv", "json"]), default="table")
@click.option("--explain", is_flag=True, help="Print the SQL MetricFlow compiles for the engine; run nothing.")
@click.pass_context
@_handles_configuration_errors
def metric_query(
    context: click.Context,
    metric_names: tuple[str, ...],
    group_bys: tuple[str, ...],
    where: tuple[str, ...],
    order_by: tuple[str, ...],
    limit: int | None,
    output_format: str,
    explain: bool,
) -> None:
    """Compute metrics grouped by dimensions: MetricFlow compiles the SQL, the active profile's engine runs it."""
    from civiclake.cli.render import query_output
    from civiclake.semantic.engines import engine_runner
    from civiclake.semantic.layer import MetricQueryError, split_names

    metrics, dimensions, ordering = split_names(metric_names), split_names(group_bys), split_names(order_by)
    try:
        settings, layer = _semantic_layer(context)
        if explain:
            click.echo(layer.compile(metrics, dimensions, list(where), ordering, limit))
            return
        layer.check_names(metrics, dimensions)
        with engine_runner(settings, layer.engine) as run:
            result = layer.query(run, metrics, dimensions, list(where), ordering, limit)
    except MetricQueryError as error:
        errors.print(f"[bold red]metric query failed:[/] {escape(str(error))}")
        sys.exit(EXIT_PARTIAL)
    output = query_output(result.columns, result.rows, output_format)
    if isinstance(output, str):
        click.echo(output, nl=not output.endswith("\n"))
    else:
        console.print(output)


@cli.group("dev")
def dev_group() -> None:
    """The cluster profile on this machine: PostgreSQL, MinIO and Trino configured as the Helm chart configures
    them. `eval "$(civiclake dev up)"` starts them and sets the cluster profile's variables in the shell."""


@dev_group.command("up")
@click.option("--json", "as_json", is_flag=True, help="Print the servers and the environment as JSON.")
@click.pass_context
@_handles_configuration_errors
def dev_up(context: click.Context, as_json: bool) -> None:
    """Start (or find running) the servers; print the cluster profile's environment as `export` lines."""
    import shlex

    from civiclake.servers.process import ServerUnavailableError
    from civiclake.servers.stack import dev_up as start_servers

    home = _settings(context).home
    try:
        state, started = start_servers(home, progress=lambda line: errors.print(f"dev up: {line}"))
    except (ServerUnavailableError, TimeoutError) as error:
        errors.print(f"[bold red]dev up failed:[/] {error}")
        sys.exit(EXIT_PARTIAL)
    servers = state["servers"]
    errors.print(
        f"dev up: {'started' if started else 'already running'}: PostgreSQL port {servers['postgresql']['port']}, "
        f"MinIO {servers['minio']['endpoint']}, Trino {servers['trino']['version']} {servers['trino']['url']}"
        + (f" in {state['seconds']} s" if started else "")
        + "; stop them with `civiclake dev down`"
    )
    if as_json:
        click.echo(json.dumps({"servers": servers, "environment": state["environment"]}, indent=2))
        return
    for name, value in sorted(state["environment"].items()):
        click.echo(f"export {name}={shlex.quote(value)}")


@dev_group.command("down")
@click.pass_context
@_handles_configuration_errors
def dev_down(context: click.Context) -> None:
    """Stop the servers `civiclake dev up` started and delete their data."""
    from civiclake.servers.stack import dev_down as stop_servers

    stopped = stop_servers(_settings(context).home)
    errors.print("dev down: servers stopped, their data deleted" if stopped else "dev down: nothing was running")


@cli.group()
def generate() -> None:
    """Fill a source with seeded, realistic data (the same seed gives the same data)."""


@cli.group()
def replay() -> None:
    """Replay a dataset into a landing zone as time-ordered micro-batches."""


@cli.group()
def serve() -> None:
    """Serve a demo source on localhost (Ctrl-C stops)."""


@serve.command("incidents-api")
@click.option("--port", default=8766, show_default=True)
@click.option("--seed", default=42, show_default=True, help="The same seed serves the same incidents.")
@click.option("--incidents", default=500, show_default=True, help="Incidents in the table at start.")
@click.option("--rate-limit", type=float, default=None, help="Table requests a second; more get HTTP 429.")
def serve_incidents_api(port: int, seed: int, incidents: int, rate_limit: float | None) -> None:
    """A ServiceNow-style incidents API (Table API, bearer auth) for `civiclake sync --source rest`."""
    import time

    from civiclake.demo.incidents import IncidentsServer

    with IncidentsServer(port=port, seed=seed, incidents=incidents, rate_limit=rate_limit) as api:
        exports = " ".join(f"{name}={value}" for name, value in api.environment().items())
        console.print(f"incidents API on {api.table_url} ({api.total} incidents, clock {api.clock})", soft_wrap=True)
        console.print(f"export {exports}", soft_wrap=True)
        console.print(f"move its clock: curl -X POST '{api.base_url}/_admin/advance?hours=24'  (Ctrl-C stops)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


@serve.command("postgres")
@click.option("--port", type=click.IntRange(1, 65535), default=5433, show_default=True)
def serve_postgres(port: int) -> None:
    """A throwaway PostgreSQL with the `civiclake` user and an empty `shopstream` database, for
    `civiclake generate shopstream` and `civiclake sync --source postgres`; deleted when it stops."""
    import signal
    import tempfile
    import time

    from civiclake.servers.postgres import running_postgres
    from civiclake.servers.process import ServerUnavailableError

    # `kill` (or `kill %1` of a shell's background job) stops it as Ctrl-C does: server stopped, data deleted.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    user, database = "civiclake", "shopstream"
    try:
        with (
            tempfile.TemporaryDirectory(prefix="civiclake-postgres-") as base_dir,
            running_postgres(Path(base_dir), port=port) as server,
        ):
            # Trust authentication on 127.0.0.1: a throwaway server on the loopback needs no password.
            server.create_role(user, password=None)
            server.create_database(database, owner=user)
            console.print(f"PostgreSQL {server.bin_dir.parent.name} on {server.host}:{port}", soft_wrap=True)
            console.print(f'--dsn "host={server.host} port={port} dbname={database} user={user}"', soft_wrap=True)
            console.print(
                f"export CIVICLAKE__POSTGRES__HOST={server.host} CIVICLAKE__POSTGRES__PORT={port} "
                f"CIVICLAKE__POSTGRES__USER={user} CIVICLAKE__POSTGRES__DATABASE={database}",
                soft_wrap=True,
            )
            console.print(f"data {server.data_dir.parent}")
            console.print("Ctrl-C stops it and deletes its data")
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(3600)
    except ServerUnavailableError as error:
        errors.print(f"[bold red]PostgreSQL would not start:[/] {error}")
        sys.exit(EXIT_USAGE)


# --- Olist: the generator and the micro-batch replay that feed the `files` source -------------------------


@generate.command("olist")
@click.option("--orders", type=click.IntRange(min=1), required=True, help="How many orders to generate.")
@click.option(
    "--to", "directory", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output folder."
)
@click.option("--seed", type=int, default=2018, show_default=True, help="The same seed gives the same bytes.")
@_handles_configuration_errors
def generate_olist_files(orders: int, directory: Path, seed: int) -> None:
    """Olist-shaped CSVs (the nine files, real headers and quirks) whose every foreign key resolves."""
    from civiclake.demo.olist.generate import generate_olist

    report = generate_olist(directory, orders, seed=seed)
    for entity, rows in report.rows.items():
        console.print(f"{rows:>10,}  {entity}")
    console.print(f"written to {directory}")


@replay.command("olist")
@click.option(
    "--from", "source", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
    help="Folder holding Olist CSVs (real or generated).",
)  # fmt: skip
@click.option(
    "--to", "landing", type=click.Path(file_okay=False, path_type=Path), required=True,
    help="Landing folder: batches go to LANDING/batch=0001/...",
)  # fmt: skip
@click.option("--batches", type=click.IntRange(min=1), required=True, help="How many time-ordered micro-batches.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--late", type=click.FloatRange(0, 0.5), default=0.05, show_default=True, help="Share re-emitted late.")
@click.option(
    "--duplicates", type=click.FloatRange(0, 0.5), default=0.02, show_default=True, help="Share duplicated exactly."
)
@_handles_configuration_errors
def replay_olist_files(source: Path, landing: Path, batches: int, seed: int, late: float, duplicates: float) -> None:
    """Split Olist CSVs into time-ordered micro-batches with late (older-state) and duplicate records."""
    from civiclake.demo.olist.replay import replay_olist
    from civiclake.errors import FormatError

    try:
        report = replay_olist(source, landing, batches, seed=seed, late=late, duplicates=duplicates)
    except FormatError as error:
        errors.print(f"[bold red]error:[/] {error}")
        sys.exit(EXIT_PARTIAL)
    for entity, per_batch in report.rows.items():
        console.print(
            f"{entity:>34}  {report.originals[entity]:>9,} records  +{report.late[entity]:,} late"
            f"  +{report.duplicates[entity]:,} duplicates  rows per batch {per_batch}"
        )
    for name in report.ignored:
        console.print(f"[yellow]ignored[/] {name}: not an Olist file")
    first, last = report.batch_folder(1).name, report.batch_folder(batches).name
    console.print(f"{batches} batches in {landing} ({first} to {last})")


# --- ShopStream: the OLTP database behind the `postgres` source ---------------------------------------------


@generate.command("shopstream")
@click.option("--dsn", required=True, help="libpq DSN or postgresql:// URL of the database to fill (never printed).")
@click.option(
    "--scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="1 = 1,000 users, 200 products, 5,000 orders, 15,000 events, 800 CRM contacts.",
)
@click.option("--seed", type=int, default=42, show_default=True, help="The same seed and scale give the same bytes.")
@click.option("--schema", default="public", show_default=True, help="PostgreSQL schema to create the tables in.")
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    default=None,
    help="End of the ~18 months of history, UTC (default 2026-11-01: fixed, so runs are reproducible).",
)
@click.option("--changes", is_flag=True, help="Apply the next day of changes to an already generated database.")
@click.option("--replace", is_flag=True, help="Empty the ShopStream tables first if they hold rows.")
def generate_shopstream_database(
    dsn: str, scale: float, seed: int, schema: str, as_of: Any, changes: bool, replace: bool
) -> None:
    """Create the ShopStream schema (users, products, orders, order_items, events, crm_contacts) and fill it."""
    import time
    from datetime import UTC

    import psycopg2
    from psycopg2.extensions import parse_dsn

    from civiclake.demo.shopstream import DEFAULT_AS_OF, apply_day_of_changes, generate_shopstream
    from civiclake.errors import CivicLakeError

    try:
        parts = parse_dsn(dsn)
    except psycopg2.ProgrammingError:
        raise click.BadParameter("not a libpq DSN or postgresql:// URL", param_hint="--dsn") from None
    where = f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', parts.get('user', ''))}"
    started = time.monotonic()
    try:
        connection = psycopg2.connect(dsn, application_name="civiclake-generate")
    except psycopg2.Error as error:
        raise click.ClickException(f"cannot connect to PostgreSQL at {where}: {' '.join(str(error).split())}") from None
    try:
        if changes:
            day = apply_day_of_changes(connection, seed=seed, schema=schema)
            console.print(f"ShopStream {where}: applied the day of changes {day.summary()}")
        else:
            end = as_of.replace(tzinfo=UTC) if as_of else DEFAULT_AS_OF
            counts = generate_shopstream(connection, scale=scale, seed=seed, as_of=end, schema=schema, replace=replace)
            rows = ", ".join(f"{table} {count:,}" for table, count in counts.items())
            console.print(f"ShopStream {where} (scale {scale:g}, seed {seed}): {rows}")
    except (CivicLakeError, psycopg2.Error) as error:
        raise click.ClickException(f"ShopStream {where}: {' '.join(str(error).split())}") from None
    finally:
        connection.close()
    console.print(f"done in {time.monotonic() - started:.1f} s")


@cli.group()
def privacy() -> None:
    """Personal data: the rights of the people the lakehouse holds data about (docs/privacy.md)."""


@privacy.command("erase")
@click.option(
    "--subject", required=True, metavar="KEY=VALUE", help="The person, by a subject key of the classification."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@_handles_configuration_errors
def privacy_erase(context: click.Context, subject: str, as_json: bool) -> None:
    """Remove one person from raw files, bronze and its history, silver, gold and the sync state, and keep them
    out of later syncs. Prints and records (meta.privacy_erasures) what changed, naming the person by pseudonym."""
    from civiclake.privacy.erasure import ErasureError, erase_subject, parse_subject

    subject_key, value = parse_subject(subject)
    settings = _lakehouse(context)
    try:
        report = erase_subject(settings, subject_key, value, say=None if as_json else console.print)
    except ErasureError as error:
        errors.print(f"[bold red]erasure incomplete:[/] {escape(str(error))}")
        sys.exit(EXIT_PARTIAL)
    summary = report.summary()
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    elif report.found:
        console.print(
            f"erased {subject_key} {report.subject_pseudonym[:12]}… (erasure {report.erasure_id}): "
            f"{report.rows_deleted} rows in {len(report.tables)} tables, {len(report.raw_files)} raw files "
            f"rewritten, {report.tombstones} tombstones; recorded in meta.privacy_erasures",
            soft_wrap=True,
        )


# --- the query audit (Trino's HTTP event listener -> the lake -> meta.query_audit) ----------------------------------


@cli.group("audit")
def audit() -> None:
    """Who queried which table on Trino, when, and how many rows (meta.query_audit)."""


@audit.command("receive")
@click.option("--port", default=8090, show_default=True)
@click.option("--address", default="0.0.0.0", show_default=True)
@click.option("--flush-seconds", default=10.0, show_default=True, help="How often received events reach the lake.")
@click.pass_context
@_handles_configuration_errors
def audit_receive(context: click.Context, port: int, address: str, flush_seconds: float) -> None:
    """Receive Trino's query events (HTTP event listener) and write them into the lake as JSON lines."""
    import signal

    from civiclake.audit import AuditReceiver
    from civiclake.lake.filesystem import lake_storage

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    receiver = AuditReceiver(lake_storage(_settings(context)), address, port, flush_seconds)
    # A pod is stopped with SIGTERM: the spool is flushed on the way out, as on Ctrl-C.
    signal.signal(signal.SIGTERM, stop)
    console.print(f"civiclake audit receiver on http://{address}:{receiver.port}/  (Ctrl-C stops)")
    with contextlib.suppress(KeyboardInterrupt):
        receiver.serve_forever()


@audit.command("load")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@_handles_configuration_errors
def audit_load(context: click.Context, as_json: bool) -> None:
    """Load the received audit files into meta.query_audit and delete what is past the retention."""
    from civiclake.audit import load_audit

    settings = _lakehouse(context)  # loads into a lakehouse; never makes one where it was run by mistake
    outcome = load_audit(settings)
    if as_json:
        click.echo(json.dumps(outcome.as_dict()))
        return
    console.print(
        f"meta.query_audit: {outcome.rows_loaded} rows loaded from {outcome.files_loaded} files; retention "
        f"{settings.audit.retention_days} days: {outcome.rows_deleted} rows deleted, {outcome.snapshots_expired} "
        f"snapshots expired, {outcome.files_removed} table files and {outcome.raw_files_deleted} raw files removed"
    )


def main() -> None:
    try:
        cli(obj={})
    finally:
        # The process ends with the command: what it built needs no search for reference cycles on the
        # way out, a search that took 0.15-0.2 s of every command (profiled) before its exit status.
        gc.freeze()
