"""The Trino check: every model rendered by dbt-trino, and parsed as Trino SQL, without a Trino server.

No Trino server can run here, so the cluster's SQL is checked statically, in three steps:

1. ``dbt parse --target trino``: the project, its YAML, its configs and Jinja are valid for dbt-trino.
2. ``dbt compile --target trino``, twice, in a scratch copy of the project. dbt-trino renders every model,
   snapshot and data test with its own macros, exactly as ``dbt build`` would on the cluster. Rendering needs a
   server for one thing only: the list of relations that already exist (``is_incremental()`` asks it). The
   copy gets a macro answering that list from a variable instead of ``information_schema``: first "nothing
   exists" (the first build on a new cluster), then "every model exists" (the incremental runs after), so both
   branches of the incremental models are rendered. Unit tests are left out: their fixtures need the column
   types of live tables.
3. Each compiled statement is parsed by sqlglot with its ``trino`` dialect; a syntax error fails the check, and
   so does a function sqlglot does not know unless Trino has it (``TRINO_FUNCTIONS``): DuckDB-only functions
   (``strip_accents``, ``epoch_ms``, ``list_aggr``...) slipping out of a dispatched macro are caught here.

What this does not prove: that Trino accepts the types and plans the queries. The smoke script against a live
cluster does.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from civiclake.privacy.keys import KEY_VARIABLE
from civiclake.transform.project import DbtProject, TransformError

OFFLINE_CATALOG_MACRO = """\
{#- Scratch copy only (civiclake dbt check-trino): the relations that exist, from a variable, not a server. -#}
{% macro trino__list_relations_without_caching(relation) %}
    {%- set rows = [] -%}
    {%- for name in var('civiclake_existing_relations', {}).get(relation.schema, []) -%}
        {%- do rows.append([relation.database, name, relation.schema, 'table']) -%}
    {%- endfor -%}
    {{ return(rows) }}
{% endmacro %}
"""
# Trino functions the project uses that sqlglot parses as unknown (anonymous) functions.
TRINO_FUNCTIONS = frozenset(
    {
        "array_join",
        "day_of_week",
        "from_iso8601_timestamp",
        "hmac_sha256",  # the pseudonymise macro; run on the real Trino by tests/cluster
        "json_extract_scalar",
        "json_parse",
        "lpad",
        "normalize",
        "to_hex",
        "to_utf8",
        "try",
    }
)


@dataclass
class TrinoCheckReport:
    parsed: int = 0
    problems: list[str] = field(default_factory=list)
    statements: dict[str, str] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)  # what the check did, in order, as told to ``progress``


def check_trino_sql(project: DbtProject, progress: Callable[[str], None] | None = None) -> TrinoCheckReport:
    """Render the project with dbt-trino (first build and incremental runs) and parse it as Trino SQL.

    ``progress`` hears what each step is about to do: the check takes most of a minute, mostly in dbt.
    """
    report = TrinoCheckReport()

    def say(step: str) -> None:
        report.steps.append(step)
        if progress is not None:
            progress(step)

    with tempfile.TemporaryDirectory(prefix="civiclake-trino-check-") as scratch:
        copy = Path(scratch) / "project"
        shutil.copytree(
            project.project_dir,
            copy,
            ignore=shutil.ignore_patterns(
                "target", "logs", "dbt_packages", "*.duckdb", ".user.yml", ".duckdb_extensions"
            ),
        )
        (copy / "macros" / "_civiclake_offline_catalog.sql").write_text(OFFLINE_CATALOG_MACRO, encoding="utf-8")
        output: list[str] = []
        # Rendering only: a throwaway pseudonymisation key, so the lakehouse's own never lands in compiled files.
        checked = DbtProject(copy, Path(scratch) / "work", "trino", {KEY_VARIABLE: secrets.token_hex(32)})
        say(f"dbt parse --target trino, in a scratch copy of {project.project_dir}")
        if checked.run(["parse"], on_line=output.append) != 0:
            raise TransformError("dbt parse --target trino failed:\n" + "\n".join(output[-40:]))
        existing = _relations_by_schema(checked.manifest())
        for mode, relations in (("first build", {}), ("incremental run", existing)):
            output.clear()
            say(f"dbt compile --target trino, as for the {mode}{'s' if mode.endswith('run') else ''}")
            arguments = [
                "compile",
                "--no-populate-cache",
                "--exclude",
                "resource_type:unit_test",
                "--vars",
                json.dumps({"civiclake_existing_relations": relations}),
            ]
            if checked.run(arguments, on_line=output.append) != 0:
                raise TransformError(f"dbt compile --target trino ({mode}) failed:\n" + "\n".join(output[-40:]))
            compiled = checked.target_path / "compiled"
            say(f"parsing the {mode} statements as Trino SQL (sqlglot)")
            for path in sorted(compiled.rglob("*.sql")):
                name = f"{mode}: {path.relative_to(compiled)}"
                sql = path.read_text(encoding="utf-8")
                report.statements[name] = sql
                problem = trino_problem(sql)
                if problem:
                    report.problems.append(f"{name}: {problem}")
                else:
                    report.parsed += 1
            shutil.rmtree(compiled)
    return report


def trino_problem(sql: str) -> str | None:
    """Why ``sql`` is not Trino SQL, or None when sqlglot parses it with the Trino dialect."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError

    try:
        statements = sqlglot.parse(sql, read="trino")
    except ParseError as error:
        return f"does not parse as Trino SQL: {error}"
    unknown = set()
    for statement in statements:
        if statement is None:
            continue
        for function in statement.find_all(exp.Anonymous):
            if function.name.lower() not in TRINO_FUNCTIONS:
                unknown.add(function.name)
    if unknown:
        return f"functions Trino does not have: {', '.join(sorted(unknown))}"
    return None


def _relations_by_schema(manifest: dict) -> dict[str, list[str]]:
    relations: dict[str, list[str]] = {}
    for node in manifest.get("nodes", {}).values():
        if node["resource_type"] in ("model", "seed", "snapshot"):
            relations.setdefault(node["schema"], []).append(node.get("alias") or node["name"])
    return {schema: sorted(names) for schema, names in relations.items()}
