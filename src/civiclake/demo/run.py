"""``civiclake demo``: the whole pipeline, offline, on bundled and generated data, four sources.

1. data.gouv.fr: the bundled mirror on a free local port, the same connector that talks to www.data.gouv.fr;
2. ShopStream: a throwaway PostgreSQL cluster generated at scale 1 (skipped, with the reason, when the
   PostgreSQL binaries are absent);
3. Olist: a generated order history replayed as micro-batches into a landing folder;
4. incidents: the ServiceNow-style demo API, then one simulated day of changes (an incremental sync);
then ``civiclake transform`` builds silver and gold with dbt, and the tables per layer, two example queries and
the freshness of every dataset are shown. Running it again shows change detection at work: nothing is downloaded
twice, no row is added twice, and dbt, finding no bronze table changed, builds nothing.

On the cluster profile (``make demo-cluster``: ``civiclake dev up``'s MinIO, PostgreSQL catalog and Trino) the
same steps land the raw zone in MinIO, dbt builds silver and gold on Trino, and the example queries run on Trino.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from rich.console import Console

from civiclake.catalog_views import dataset_statuses, list_tables
from civiclake.cli.render import plural, query_output, status_table, transform_summary
from civiclake.commands import connectors_for, run_sync
from civiclake.config import Settings
from civiclake.demo.incidents.server import IncidentsServer
from civiclake.demo.mirror.server import MirrorServer
from civiclake.demo.olist.landing import build_demo_landing
from civiclake.errors import ConfigurationError
from civiclake.pipeline import SyncReport
from civiclake.registry import load_registry
from civiclake.servers.postgres import PostgresUnavailableError, shopstream_database
from civiclake.sources.datagouv import DatagouvConnector, DatagouvSelection
from civiclake.warehouse.catalog import open_catalog
from civiclake.warehouse.duck import connect
from civiclake.warehouse.state import SyncState
from civiclake.warehouse.trino_client import trino_connection

DEMO_REGISTRY = Path(__file__).with_name("datasets.yaml")
DEMO_INCIDENTS = 500
EXAMPLE_QUERIES = {
    "departments with the most rail travellers in 2022 (bronze, data.gouv.fr)": """
        SELECT g.departemen AS departement, count(*) AS stations, sum(f.total_voyageurs_2022) AS travellers_2022
        FROM bronze.datagouv__gares__liste_des_gares AS g
        JOIN bronze.datagouv__frequentation_gares__frequentation_en_gares_2015_2022 AS f ON f.code_uic = g.code_uic
        GROUP BY g.departemen ORDER BY travellers_2022 DESC NULLS LAST LIMIT 5""",
    "Olist: the five busiest days (gold)": """
        SELECT order_date, total_orders, total_revenue, avg_order_value
        FROM gold.gold_daily_sales ORDER BY total_orders DESC, order_date LIMIT 5""",
}


def run_demo(settings: Settings, console: Console) -> int:
    _require_dbt_project(settings)
    reports: list[SyncReport] = []

    console.rule("1/5 data.gouv.fr (bundled mirror) -> raw lake -> Iceberg bronze")
    with MirrorServer() as mirror:
        console.print(f"mirror of the data.gouv.fr catalogue serving on {mirror.api_url}")
        demo_settings = settings.with_overrides(datagouv={"api_url": mirror.api_url})
        selection = DatagouvSelection.from_registry(load_registry(DEMO_REGISTRY).datagouv)
        connector = DatagouvConnector(demo_settings.datagouv, demo_settings.http, selection)
        reports.append(run_sync(demo_settings, [connector], console))

    console.rule("2/5 ShopStream (PostgreSQL, generated at scale 1) -> incremental extraction -> bronze")
    try:
        with (
            tempfile.TemporaryDirectory(prefix="civiclake-shopstream-") as database_dir,
            shopstream_database(Path(database_dir)) as postgres,
        ):
            console.print(f"ShopStream database on {postgres['host']}:{postgres['port']}/{postgres['database']}")
            reports.append(_sync_source(demo_settings.with_overrides(postgres=postgres), "postgres", console))
    except PostgresUnavailableError as error:
        console.print(f"[yellow]ShopStream skipped: {error}[/]")

    console.rule("3/5 Olist (generated, replayed as micro-batches with late and duplicate records) -> bronze")
    landing = demo_settings.home / "landing"
    replayed = build_demo_landing(landing)
    if replayed is not None:
        console.print(f"replayed Olist into {landing}")
    files_settings = demo_settings.with_overrides(files={"landing": str(landing)})
    reports.append(_sync_source(files_settings, "files", console))

    console.rule("4/5 incidents (ServiceNow-style API) -> cursor on sys_updated_on -> bronze")
    with IncidentsServer(incidents=DEMO_INCIDENTS) as api:
        rest_settings = files_settings.with_overrides(**api.settings_overrides())
        reports.append(_sync_source(rest_settings, "rest", console))
        api.advance(24)
        console.print("one day later at the incidents service: only what changed is loaded")
        reports.append(_sync_source(rest_settings, "rest", console))

    engine = "Trino" if settings.profile == "cluster" else "DuckDB, published as Iceberg tables"
    console.rule(f"5/5 dbt: silver and gold on {engine}")
    transform_code = _transform(demo_settings, console)

    _show(demo_settings, console)
    worst = max([report.exit_code for report in reports] + [transform_code])
    return worst


def _require_dbt_project(settings: Settings) -> None:
    """The demo ends with dbt: say where it can run before syncing anything (the ingest image has no project)."""
    from civiclake.transform.project import locate_project_dir

    try:
        locate_project_dir(settings)
    except ConfigurationError:
        raise ConfigurationError(
            "civiclake demo ends with dbt and finds no dbt project: run it in the dbt image or a checkout "
            "(images/README.md)"
        ) from None


def _sync_source(settings: Settings, source: str, console: Console) -> SyncReport:
    return run_sync(settings, connectors_for(settings, [source], []), console)


def _transform(settings: Settings, console: Console) -> int:
    from civiclake.transform.runner import run_transform

    report = run_transform(settings, console)
    console.print(transform_summary(report))
    return report.exit_code


def _show(settings: Settings, console: Console) -> None:
    catalog = open_catalog(settings)
    # A line per layer: the hundred tables themselves are one `civiclake tables` away.
    layers: dict[str, list[int]] = {}
    for info in list_tables(catalog):
        layers.setdefault(info.name.split(".", 1)[0], []).append(info.rows)
    console.rule("what the lakehouse holds")
    for layer, rows in sorted(layers.items()):
        console.print(f"{layer:>8}: {plural(len(rows), 'table')}, {sum(rows):,} rows")
    # The analyst's engine of the profile: DuckDB in process, or the cluster's Trino (the dbt pods' TRINO_*).
    connection = connect(settings, catalog) if settings.profile == "local" else trino_connection("civiclake-demo")
    for title, sql in EXAMPLE_QUERIES.items():
        console.rule(f"{title} ({'DuckDB' if settings.profile == 'local' else 'Trino'})")
        cursor = connection.cursor()
        cursor.execute(sql)
        columns = [c[0] for c in cursor.description or []]
        console.print(query_output(columns, [tuple(row) for row in cursor.fetchall()], "table"))
    state = SyncState(settings.catalog_uri)
    try:
        console.print(status_table(dataset_statuses(catalog, state), console.width))
    finally:
        state.close()
    console.print(
        f"lakehouse in {settings.home.resolve()}: try `civiclake tables`, `civiclake status`, "
        '`civiclake sql "SELECT * FROM gold.gold_daily_sales LIMIT 5"`'
    )
