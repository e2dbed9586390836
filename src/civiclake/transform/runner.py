"""``civiclake transform``: dbt build on the active profile, its metrics, and (locally) its Iceberg tables.

1. Local profile: refresh the DuckDB file's views over the bronze and meta Iceberg tables.
2. ``dbt parse``, then list the project's sources whose bronze table does not exist in this lakehouse (a
   source not synced yet, or not synced here): ``dbt build`` excludes them and everything built from them,
   so a lakehouse holding only data.gouv.fr still builds its open-data models.
3. ``dbt build`` (seeds, models, snapshots, unit tests and data tests, in dependency order) of what changed
   since the last successful build (``build_state``): nothing when no bronze table and no project file changed,
   what reads the changed bronze tables otherwise, everything on a first build or with ``full``; or, when the
   arguments given after ``--`` select nodes themselves, what they select. Its progress is shown from dbt's
   structured events (``progress``).
4. dbt's run results become Prometheus metrics, pushed when a Pushgateway is set.
5. Local profile: every silver and gold relation built is published as an Iceberg table, except those whose
   own tests failed: their Iceberg table keeps its previous, tested version. On Trino, dbt writes the
   Iceberg tables itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyiceberg.catalog import Catalog
from rich.console import Console

from civiclake.config import Settings
from civiclake.transform.build_state import (
    BuildPlan,
    BuildState,
    plan_build,
    project_checksum,
    save_manifest,
    source_snapshots,
)
from civiclake.transform.duckdb_database import prepare_duckdb_database
from civiclake.transform.progress import DbtBuildProgress
from civiclake.transform.project import PUBLISHED_SCHEMAS, DbtProject, TransformError
from civiclake.transform.publish import PublishedTable, Relation, publish_relations
from civiclake.warehouse.catalog import open_catalog

PUSHGATEWAY_JOB = "civiclake-dbt"
_PUBLISHED_TYPES = ("model", "seed", "snapshot")
_FAILED = ("fail", "error")
_SELECTION_FLAGS = frozenset(
    {"-s", "--select", "-m", "--models", "--model", "--exclude", "--selector", "--resource-type", "--resource-types"}
)


@dataclass
class TransformReport:
    target: str
    dbt_exit_code: int
    missing_sources: list[str] = field(default_factory=list)
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    held_back: list[str] = field(default_factory=list)
    published: list[PublishedTable] = field(default_factory=list)
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step: prepare, parse, build, publish
    plan: BuildPlan | None = None

    @property
    def built_nothing(self) -> bool:
        return self.plan is not None and self.plan.builds_nothing

    @property
    def exit_code(self) -> int:
        """0 success; 1 some nodes failed (the others were built); 2 dbt could not run the project."""
        if self.dbt_exit_code not in (0, 1):
            return 2
        return 1 if self.dbt_exit_code == 1 or self.failures else 0


def run_transform(
    settings: Settings,
    console: Console,
    dbt_arguments: Sequence[str] = (),
    *,
    project: DbtProject | None = None,
    full: bool = False,
) -> TransformReport:
    """Build what changed since the last successful build (everything with ``full``, or as ``dbt_arguments``
    select); print the progress, the failures and what was published. The caller prints the summary
    (``civiclake.cli.render.transform_summary``)."""
    project = project or DbtProject.from_settings(settings)
    catalog = open_catalog(settings)
    started = time.monotonic()
    phases: dict[str, float] = {}
    missing = prepare_and_parse(project, catalog, console, phases)
    manifest = project.manifest()

    (project.target_path / "run_results.json").unlink(missing_ok=True)
    snapshots = source_snapshots(manifest, catalog)
    checksum = project_checksum(project.project_dir)
    state = BuildState(settings.catalog_uri)
    try:
        if selects_nodes(dbt_arguments):
            plan = BuildPlan(None, f"dbt build {' '.join(dbt_arguments)}: the nodes these arguments select")
        else:
            plan = plan_build(
                state.last_build(project.target),
                snapshots,
                checksum,
                project.last_build_path / "manifest.json",
                # dbt's --full-refresh rebuilds incremental models from scratch: asked for, it means every model
                full=full or "--full-refresh" in dbt_arguments,
                relations_kept_beside_manifest=project.target == "duckdb",
            )
        report = TransformReport(project.target, 0, missing_sources=missing, phases=phases, plan=plan)
        if plan.builds_nothing:
            console.print(f"nothing to build: {plan.reason}; --full builds everything", soft_wrap=True)
            report.seconds = time.monotonic() - started
            return report
        if selects_nodes(dbt_arguments):
            console.print(plan.reason, soft_wrap=True)
        else:
            what = "everything" if plan.selection is None else "what depends on the changes"
            console.print(f"dbt build of {what}: {plan.reason}", soft_wrap=True)

        exclusions = excluding_missing_sources(missing)
        # dbt's structured events drive the progress display; its log file stays the readable text.
        arguments = ["build", "--log-format", "json", "--log-format-file", "debug"]
        arguments += [*plan.arguments(project.last_build_path), *exclusions, *dbt_arguments]
        build_started = time.monotonic()
        with DbtBuildProgress(console) as progress:
            report.dbt_exit_code = project.run(arguments, on_line=progress.feed)
        phases["build"] = time.monotonic() - build_started
        run_results_path = project.target_path / "run_results.json"
        if not run_results_path.exists():
            report.seconds = time.monotonic() - started
            return report

        manifest, results = project.manifest(), project.run_results()
        report.counts = node_counts(results)
        report.failures = sorted(r["unique_id"] for r in results["results"] if r.get("status") in _FAILED)
        _record_metrics(settings, project, console)
        if project.target == "duckdb":
            relations, held_back = relations_to_publish(manifest, results)
            report.held_back = held_back
            if held_back:
                console.print(
                    f"[yellow]not published (their tests failed), Iceberg keeps the previous version:[/] "
                    f"{', '.join(held_back)}"
                )
            publish_started = time.monotonic()
            report.published = publish_relations(catalog, project.duckdb_path, project.extensions_dir, relations)
            phases["publish"] = time.monotonic() - publish_started
        if report.exit_code == 0 and not selects_nodes(dbt_arguments):
            state.record_build(project.target, checksum, snapshots)
            save_manifest(project.target_path / "manifest.json", project.last_build_path)
    finally:
        state.close()
    report.seconds = time.monotonic() - started
    return report


def prepare_and_parse(
    project: DbtProject, catalog: Catalog, console: Console, phases: dict[str, float] | None = None
) -> list[str]:
    """Steps 1 and 2, shared by every command that runs dbt on a lakehouse: the DuckDB file's views (local
    profile), then ``dbt parse``; returns the sources with no bronze table here, for ``excluding_missing_sources``.
    """
    phases = phases if phases is not None else {}
    started = time.monotonic()
    if project.target == "duckdb":
        views = prepare_duckdb_database(catalog, project.duckdb_path, project.extensions_dir)
        console.print(f"DuckDB database {project.duckdb_path}: {len(views)} bronze and meta views")
    phases["prepare"] = time.monotonic() - started

    parse_output: list[str] = []
    parse_started = time.monotonic()
    if project.run(["parse"], on_line=parse_output.append) != 0:
        echo = _echo(console)
        for line in parse_output:
            echo(line)
        raise TransformError(f"dbt parse failed for the project in {project.project_dir} (output above)")
    missing = missing_sources(project.manifest(), catalog)
    phases["parse"] = time.monotonic() - parse_started
    if missing:
        console.print(
            f"[yellow]{len(missing)} dbt sources have no bronze table in this lakehouse; their models are "
            f"skipped:[/] {', '.join(missing)}"
        )
    return missing


def excluding_missing_sources(missing: Sequence[str]) -> list[str]:
    """dbt arguments that leave out the sources with no bronze table and everything built from them."""
    return ["--exclude", *(f"source:{name}+" for name in missing)] if missing else []


def selects_nodes(dbt_arguments: Sequence[str]) -> bool:
    """Whether the dbt arguments choose the nodes themselves (then they are built as asked, nothing recorded)."""
    return any(argument.split("=", 1)[0] in _SELECTION_FLAGS for argument in dbt_arguments)


def missing_sources(manifest: dict[str, Any], catalog: Catalog) -> list[str]:
    """The project's sources (``source_name.table_name``) whose Iceberg table does not exist."""
    missing = []
    for source in manifest.get("sources", {}).values():
        identifier = (source["schema"], source.get("identifier") or source["name"])
        if not catalog.table_exists(identifier):
            missing.append(f"{source['source_name']}.{source['name']}")
    return sorted(missing)


def node_counts(results: dict[str, Any]) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for result in results.get("results", []):
        key = (result["unique_id"].split(".", 1)[0], str(result.get("status")))
        counts[key] = counts.get(key, 0) + 1
    return counts


def relations_to_publish(manifest: dict[str, Any], results: dict[str, Any]) -> tuple[list[Relation], list[str]]:
    """Relations built successfully in a published schema, minus those with a failed test of their own."""
    nodes = manifest.get("nodes", {})
    untrusted = set()
    for result in results.get("results", []):
        if result["unique_id"].startswith(("test.", "unit_test.")) and result.get("status") in _FAILED:
            node = nodes.get(result["unique_id"]) or manifest.get("unit_tests", {}).get(result["unique_id"], {})
            untrusted.update(_tested_nodes(node))
    relations, held_back = [], []
    for result in results.get("results", []):
        node = nodes.get(result["unique_id"])
        if node is None or node["resource_type"] not in _PUBLISHED_TYPES or result.get("status") != "success":
            continue
        if node["schema"] not in PUBLISHED_SCHEMAS or node["config"].get("materialized") == "ephemeral":
            continue
        if node["unique_id"] in untrusted:
            held_back.append(node["name"])
            continue
        relations.append(
            Relation(
                schema=node["schema"],
                name=node.get("alias") or node["name"],
                unique_id=node["unique_id"],
                description=node.get("description") or "",
                column_descriptions={
                    name: column.get("description") or "" for name, column in node.get("columns", {}).items()
                },
            )
        )
    return relations, sorted(held_back)


def _tested_nodes(node: dict[str, Any]) -> set[str]:
    attached = node.get("attached_node")
    if attached:
        return {attached}
    if node.get("resource_type") == "unit_test":
        return {f"model.{node['package_name']}.{node['model']}"}
    depends = node.get("depends_on", {}).get("nodes", [])
    return {dep for dep in depends if dep.startswith(("model.", "snapshot.", "seed."))}


def _record_metrics(settings: Settings, project: DbtProject, console: Console) -> None:
    from prometheus_client import CollectorRegistry

    from civiclake.observability.metrics import PipelineMetrics, push_metrics

    run_results = project.target_path / "run_results.json"
    metrics = PipelineMetrics(CollectorRegistry())
    metrics.observe_dbt_run(run_results, project.target_path / "manifest.json")
    if settings.metrics.pushgateway_url:
        # One group per dbt command (the dashboards' convention): a `dbt test` run never replaces a build's.
        command = str(json.loads(run_results.read_text()).get("args", {}).get("which") or "build")
        try:
            push_metrics(metrics.registry, settings.metrics.pushgateway_url, PUSHGATEWAY_JOB, {"command": command})
        except OSError as error:  # a monitoring outage must not fail a transform that built its tables
            console.print(f"[yellow]metrics not pushed to {settings.metrics.pushgateway_url}: {error}[/]")


def _echo(console: Console) -> Callable[[str], None]:
    def echo(line: str) -> None:
        console.out(line, highlight=False)

    return echo
