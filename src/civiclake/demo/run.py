"""``civiclake demo``: the whole pipeline, offline, on the bundled data.gouv.fr mirror.

It starts the mirror on a free local port, points the data.gouv.fr connector at it (the same code that
talks to www.data.gouv.fr), syncs the demo registry into the lake and bronze tables of the active
profile, then shows the tables, a query and the freshness of every dataset. Running it again shows
change detection at work: nothing is downloaded twice, no row is added twice.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from civiclake.catalog_views import dataset_statuses, list_tables
from civiclake.cli.render import query_output, status_table, tables_table
from civiclake.commands import run_sync
from civiclake.config import Settings
from civiclake.demo.mirror.server import MirrorServer
from civiclake.registry import load_registry
from civiclake.sources.datagouv import DatagouvConnector, DatagouvSelection
from civiclake.warehouse.catalog import open_catalog
from civiclake.warehouse.duck import connect
from civiclake.warehouse.state import SyncState

DEMO_REGISTRY = Path(__file__).with_name("datasets.yaml")
EXAMPLE_QUERY = """
SELECT g.departemen AS departement,
       count(*) AS stations,
       sum(f.total_voyageurs_2022) AS travellers_2022
FROM bronze.datagouv__gares__liste_des_gares AS g
JOIN bronze.datagouv__frequentation_gares__frequentation_en_gares_2015_2022 AS f
  ON f.code_uic = g.code_uic
GROUP BY g.departemen
ORDER BY travellers_2022 DESC NULLS LAST
LIMIT 5
"""


def run_demo(settings: Settings, console: Console) -> int:
    console.rule("civiclake demo: data.gouv.fr (bundled mirror) -> raw lake -> Iceberg bronze")
    with MirrorServer() as mirror:
        console.print(f"mirror of the data.gouv.fr catalogue serving on {mirror.api_url}")
        demo_settings = settings.with_overrides(datagouv={"api_url": mirror.api_url})
        selection = DatagouvSelection.from_registry(load_registry(DEMO_REGISTRY).datagouv)
        connector = DatagouvConnector(demo_settings.datagouv, demo_settings.http, selection)
        report = run_sync(demo_settings, [connector], console)

    catalog = open_catalog(demo_settings)
    console.print(tables_table(list_tables(catalog)))
    console.rule("departments with the most rail travellers in 2022 (civiclake sql)")
    connection = connect(demo_settings, catalog)
    result = connection.execute(EXAMPLE_QUERY)
    console.print(query_output([c[0] for c in result.description or []], result.fetchall(), "table"))
    state = SyncState(demo_settings.catalog_uri)
    try:
        console.print(status_table(dataset_statuses(catalog, state)))
    finally:
        state.close()
    console.print(
        f"lakehouse in {demo_settings.home.resolve()}: try `civiclake tables`, `civiclake status`, "
        '`civiclake sql "SELECT count(*) FROM meta.ingestions"`'
    )
    return report.exit_code
