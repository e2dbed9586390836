"""``civiclake metric``: MetricFlow compiles, civiclake runs.

The metrics are dbt's (``dbt parse`` writes them to ``target/semantic_manifest.json``). MetricFlow's Python API
turns a request (metrics, group-bys, filters) into one SQL statement in the engine's dialect: DuckDB on the local
profile, Trino on the cluster. civiclake runs that statement on the connection it already uses for the engine,
so the layer reads what every other reader reads:

- locally, the published Iceberg tables, through ``civiclake sql``'s read-only DuckDB session (the tables that
  passed their tests, not dbt's working DuckDB file);
- on the cluster, the Iceberg catalog through Trino, as the dbt pods and analysts' clients do.

dbt names each relation with its database (the DuckDB file's name, or the Trino catalog); the manifest's
relations are rewritten to ``schema.table``, which both sessions resolve (DuckDB's views are in schemas named
like the Iceberg namespaces, and Trino's session catalog is the Iceberg one).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from civiclake.errors import ConfigurationError, TerminalError

SEMANTIC_MANIFEST = "semantic_manifest.json"
# MetricFlow's grains a time group-by may end with (metric_time__week, incident__opened_date__month).
TIME_GRAINS = ("day", "week", "month", "quarter", "year")
_GRAIN_SUFFIX = re.compile(r"__(?:" + "|".join(TIME_GRAINS) + r")$")


class MetricQueryError(TerminalError):
    """MetricFlow could not compile the request, or the engine could not run it."""


class UnknownNameError(ConfigurationError):
    """A metric or group-by that the semantic layer does not define (exit 2, naming it and the available ones)."""


@dataclass(frozen=True)
class MetricInfo:
    name: str
    kind: str
    label: str
    description: str
    group_bys: tuple[str, ...]


@dataclass(frozen=True)
class MetricResult:
    sql: str
    columns: list[str]
    rows: list[tuple[Any, ...]]


def load_semantic_manifest(path: Path) -> Any:
    """The semantic manifest dbt wrote, its relations named ``schema.table`` (see the module's docstring)."""
    from metricflow_semantics.model.dbt_manifest_parser import parse_manifest_from_dbt_generated_manifest

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MetricQueryError(f"{path} is missing: dbt parse did not write the semantic manifest") from None
    for relation in _node_relations(raw):
        relation["database"] = None
        relation["relation_name"] = f"{relation['schema_name']}.{relation['alias']}"
    return parse_manifest_from_dbt_generated_manifest(json.dumps(raw))


def _node_relations(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "node_relation" and isinstance(item, dict):
                yield item
            else:
                yield from _node_relations(item)
    elif isinstance(value, list):
        for item in value:
            yield from _node_relations(item)


class _CompileOnlyClient:
    """What MetricFlow needs of a SQL client to compile: the engine and its dialect. civiclake runs the SQL itself
    (``SemanticLayer.query``), so the execution methods refuse."""

    def __init__(self, engine: str) -> None:
        from metricflow.protocols.sql_client import SqlEngine
        from metricflow.sql.render.duckdb_renderer import DuckDbSqlPlanRenderer
        from metricflow.sql.render.trino import TrinoSqlPlanRenderer

        self._renderer: Any
        if engine == "duckdb":
            self._engine, self._renderer = SqlEngine.DUCKDB, DuckDbSqlPlanRenderer()
        elif engine == "trino":
            self._engine, self._renderer = SqlEngine.TRINO, TrinoSqlPlanRenderer()
        else:
            raise ConfigurationError(f"the semantic layer runs on duckdb or trino, not {engine!r}")

    @property
    def sql_engine_type(self) -> Any:
        return self._engine

    @property
    def sql_plan_renderer(self) -> Any:
        return self._renderer

    def query(self, stmt: str, sql_bind_parameter_set: Any = None) -> Any:
        raise NotImplementedError("civiclake runs MetricFlow's SQL itself")

    def execute(self, stmt: str, sql_bind_parameter_set: Any = None) -> None:
        raise NotImplementedError("civiclake runs MetricFlow's SQL itself")

    def dry_run(self, stmt: str, sql_bind_parameter_set: Any = None) -> None:
        raise NotImplementedError("civiclake runs MetricFlow's SQL itself")

    def close(self) -> None:
        pass

    def render_bind_parameter_key(self, bind_parameter_key: str) -> str:
        return f":{bind_parameter_key}"


class SemanticLayer:
    """The metrics of one semantic manifest, compiled for one engine (``duckdb`` or ``trino``)."""

    def __init__(self, manifest_path: Path, engine: str) -> None:
        from metricflow.engine.metricflow_engine import MetricFlowEngine
        from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup

        # MetricFlow logs each request at INFO through the root logger: civiclake's output is the result.
        logging.getLogger("metricflow").setLevel(logging.WARNING)
        logging.getLogger("metricflow_semantics").setLevel(logging.WARNING)
        self.engine = engine
        manifest = load_semantic_manifest(manifest_path)
        self._engine = MetricFlowEngine(SemanticManifestLookup(manifest), _CompileOnlyClient(engine))

    def metric_names(self) -> list[str]:
        return sorted(metric.name for metric in self._engine.list_metrics(include_dimensions=False))

    def group_by_names(self, metric_names: Sequence[str]) -> list[str]:
        """What these metrics can be grouped by together: entities, dimensions, and time dimensions (add a
        grain: ``metric_time__week``)."""
        from metricflow.engine.models import Dimension

        names = set()
        for item in self._engine.list_group_bys(list(metric_names)):
            names.add(item.granularity_free_dunder_name if isinstance(item, Dimension) else item.name)
        return sorted(names)

    def metrics(self) -> list[MetricInfo]:
        infos = []
        for metric in sorted(self._engine.list_metrics(include_dimensions=False), key=lambda m: m.name):
            description = " ".join((metric.description or "").split())
            infos.append(
                MetricInfo(
                    metric.name,
                    str(metric.type.value),
                    metric.label or metric.name,
                    description,
                    tuple(self.group_by_names([metric.name])),
                )
            )
        return infos

    def check_names(self, metric_names: Sequence[str], group_bys: Sequence[str]) -> None:
        """Raise ``UnknownNameError`` for the first unknown metric or group-by, listing the available ones."""
        if not metric_names:
            raise UnknownNameError(f"--metrics: name at least one metric (available: {', '.join(self.metric_names())})")
        known = set(self.metric_names())
        for name in metric_names:
            if name not in known:
                raise UnknownNameError(f"--metrics: no metric {name!r} (available: {', '.join(sorted(known))})")
        available = self.group_by_names(metric_names)
        for name in group_bys:
            if _GRAIN_SUFFIX.sub("", name) not in available and name not in available:
                raise UnknownNameError(
                    f"--group-by: {name!r} is not a dimension of {', '.join(metric_names)} (available: "
                    f"{', '.join(available)}; time dimensions take a grain: __{', __'.join(TIME_GRAINS)})"
                )

    def compile(
        self,
        metric_names: Sequence[str],
        group_bys: Sequence[str] = (),
        where: Sequence[str] = (),
        order_by: Sequence[str] = (),
        limit: int | None = None,
    ) -> str:
        """The SQL statement of this request, in the engine's dialect."""
        from metricflow.engine.metricflow_engine import MetricFlowQueryRequest
        from metricflow_semantics.errors.error_classes import InformativeUserError

        self.check_names(metric_names, group_bys)
        request = MetricFlowQueryRequest.create(
            metric_names=list(metric_names),
            group_by_names=list(group_bys),
            where_constraints=list(where) or None,
            order_by_names=list(order_by) or None,
            limit=limit,
        )
        try:
            statement = self._engine.explain(request).sql_statement
        except InformativeUserError as error:
            raise ConfigurationError(f"MetricFlow cannot resolve the query: {' '.join(str(error).split())}") from None
        if statement.bind_parameter_set.param_dict:
            raise MetricQueryError("MetricFlow compiled a statement with bind parameters, which civiclake cannot run")
        return str(statement.sql)

    def query(
        self,
        run: Callable[[str], tuple[list[str], list[tuple[Any, ...]]]],
        metric_names: Sequence[str],
        group_bys: Sequence[str] = (),
        where: Sequence[str] = (),
        order_by: Sequence[str] = (),
        limit: int | None = None,
    ) -> MetricResult:
        sql = self.compile(metric_names, group_bys, where, order_by, limit)
        columns, rows = run(sql)
        return MetricResult(sql, columns, rows)


def split_names(values: Iterable[str]) -> list[str]:
    """``--metrics a,b --metrics c`` -> ``[a, b, c]``."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()]
