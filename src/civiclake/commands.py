"""What the commands do, apart from parsing arguments: shared by the CLI, the demo and the DAGs."""

from __future__ import annotations

import time

from rich.console import Console

from civiclake.config import Settings
from civiclake.pipeline import SyncPipeline, SyncReport
from civiclake.registry import DatagouvDataset, DatagouvSearch, load_registry
from civiclake.sources import SOURCES
from civiclake.sources.base import Connector
from civiclake.sources.datagouv import DatagouvConnector, DatagouvSelection


def connectors_for(
    settings: Settings,
    sources: list[str],
    datasets: list[str],
    query: str | None = None,
    organization: str | None = None,
    tags: list[str] | None = None,
) -> list[Connector]:
    """The connectors a sync runs: the sources asked for; without any, the sources the selection names (a search
    or a dataset id is data.gouv.fr's, a REST endpoint's name is the rest source's); with no selection either,
    every source."""
    connectors: list[Connector] = []
    endpoints = {endpoint.name for endpoint in settings.rest.configured_endpoints()}
    for source in sources or sources_of_selection(datasets, endpoints, bool(query or organization or tags)):
        if source == "datagouv":
            # A REST endpoint's name among the datasets is the rest source's, not a data.gouv.fr id to look up.
            ids = datasets if sources else [name for name in datasets if name not in endpoints]
            selection = selection_from_arguments(settings, ids, query, organization, tags or [])
            connectors.append(DatagouvConnector(settings.datagouv, settings.http, selection))
        elif source == "files":
            from civiclake.sources.files import FilesConnector

            connectors.append(FilesConnector.from_settings(settings))
        elif source == "rest":
            from civiclake.sources.rest import rest_connectors

            connectors.extend(rest_connectors(settings, sources, datasets))
        elif source == "postgres":
            from civiclake.sources.postgres import PostgresConnector

            # Without a host the source is not set up: a full sync leaves it out, `--source postgres` says what to set.
            if settings.postgres.host or source in sources:
                connectors.append(PostgresConnector.from_settings(settings))
    return connectors


def sources_of_selection(datasets: list[str], endpoints: set[str], searched: bool) -> list[str]:
    """Which sources `sync --dataset/--query...` means when no --source is given: naming a data.gouv.fr dataset
    must not also sync the landing zone, the OLTP database and the API."""
    if not (datasets or searched):
        return list(SOURCES)
    named = set(datasets)
    chosen = ["datagouv"] if searched or named - endpoints else []
    return chosen + (["rest"] if named & endpoints else [])


def selection_from_arguments(
    settings: Settings, datasets: list[str], query: str | None, organization: str | None, tags: list[str]
) -> DatagouvSelection:
    """Datasets named on the command line win; without any, the registry decides."""
    registry = load_registry(settings.registry.path).datagouv
    if not (datasets or query or organization or tags):
        return DatagouvSelection.from_registry(registry)
    registered = {entry.id: entry for entry in registry.datasets}
    chosen = [registered.get(reference, DatagouvDataset(id=reference)) for reference in datasets]
    searches = (
        [DatagouvSearch(query=query, organization=organization, tags=tags)] if (query or organization or tags) else []
    )
    return DatagouvSelection(datasets=chosen, searches=searches)


def run_sync(
    settings: Settings, connectors: list[Connector], console: Console, *, full_refresh: bool = False
) -> SyncReport:
    """Sync each connector with progress bars, a line per resource and a summary line; record the run's
    metrics and push them when a Pushgateway is set. The connectors are closed afterwards."""
    from prometheus_client import CollectorRegistry

    from civiclake.cli.render import RichProgress, print_errors, sync_summary_line
    from civiclake.observability.metrics import PipelineMetrics, datasets_of, push_per_dataset

    metrics = PipelineMetrics(CollectorRegistry())
    pipeline = SyncPipeline(settings)
    started = time.monotonic()
    try:
        with RichProgress(console) as progress:
            pipeline.progress = metrics.progress_hooks(inner=progress)
            report = SyncReport.combined(
                [pipeline.sync(connector, full_refresh=full_refresh) for connector in connectors]
            )
        metrics.observe_report(report, duration_seconds=time.monotonic() - started)
        metrics.observe_lake(pipeline.catalog, pipeline.state, datasets=datasets_of(report))
    finally:
        for connector in connectors:
            connector.close()
        pipeline.close()
    print_errors(console, report)
    console.print(sync_summary_line(report, time.monotonic() - started))
    if settings.metrics.pushgateway_url:
        try:
            push_per_dataset(metrics.registry, settings.metrics.pushgateway_url, "civiclake-sync")
        except OSError as error:  # a monitoring outage must not fail a sync that loaded its data
            console.print(f"[yellow]metrics not pushed to {settings.metrics.pushgateway_url}: {error}[/]")
    return report
