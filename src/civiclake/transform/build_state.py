"""What the last successful dbt build was built from, so that the next one builds only what changed.

After a build that succeeded, civiclake records, in the catalog's own database (beside the sync state, shared by
every pod of the cluster): the current Iceberg snapshot id of each bronze table dbt reads as a source, and a
checksum of the dbt project's files. The next ``transform`` compares:

- nothing changed (same snapshots, same project): dbt is not run at all;
- some bronze tables have a new snapshot: ``dbt build --select source:<name>+`` for those sources: what reads
  them, directly or not, is rebuilt and tested; the rest stays as built;
- the project changed: dbt's own ``state:modified+``, against the manifest saved at the last build;
- no record, a manifest missing where it is needed, a different dbt version: everything is built.

Only bronze snapshots count: ``meta`` tables get rows on every sync, changed or not, so the models reading them
(the sync-status mart) are refreshed with the next bronze change or a full build (``civiclake status`` reads the
sync state itself, always current). A build that fails records nothing: the next one still compares with the last
build that succeeded, so what changed since is built again.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pyiceberg.catalog import Catalog

from civiclake.warehouse.catalog import first_setup_retried

_metadata = sa.MetaData()
build_record = sa.Table(
    "civiclake_dbt_build",
    _metadata,
    sa.Column("target", sa.String(32), primary_key=True),
    sa.Column("project_checksum", sa.String(64), nullable=False),
    sa.Column("dbt_version", sa.String(32), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
)
build_sources = sa.Table(
    "civiclake_dbt_build_source",
    _metadata,
    sa.Column("target", sa.String(32), primary_key=True),
    sa.Column("source", sa.String(255), primary_key=True),  # dbt's source_name.table_name
    sa.Column("snapshot_id", sa.BigInteger),  # None: the table existed and was empty
)
# Left out of the project's checksum: what runs write (when dbt ran inside the project) and local settings.
IGNORED_PARTS = frozenset({"target", "logs", "dbt_packages", "__pycache__", ".user.yml"})
IGNORED_SUFFIXES = (".duckdb", ".duckdb.wal", ".pyc")


@dataclass(frozen=True)
class LastBuild:
    project_checksum: str
    dbt_version: str
    finished_at: datetime
    snapshots: dict[str, int | None]


@dataclass
class BuildPlan:
    """What ``dbt build`` is asked to build, and why, in words for the person running it."""

    selection: list[str] | None  # None: everything; []: nothing
    reason: str
    changed_sources: list[str] = field(default_factory=list)
    project_changed: bool = False

    @property
    def builds_nothing(self) -> bool:
        return self.selection == []

    def arguments(self, state_dir: Path) -> list[str]:
        if not self.selection:
            return []
        return ["--select", *self.selection, *(["--state", str(state_dir)] if self.project_changed else [])]


class BuildState:
    def __init__(self, catalog_uri: str) -> None:
        self.engine = sa.create_engine(catalog_uri)
        # Two builds starting on a new catalog database both create the tables: the second looks again.
        first_setup_retried(lambda: _metadata.create_all(self.engine))

    def close(self) -> None:
        self.engine.dispose()

    def last_build(self, target: str) -> LastBuild | None:
        with self.engine.connect() as connection:
            record = connection.execute(sa.select(build_record).where(build_record.c.target == target)).first()
            if record is None:
                return None
            rows = connection.execute(sa.select(build_sources).where(build_sources.c.target == target))
            snapshots = {row.source: row.snapshot_id for row in rows}
        finished_at = record.finished_at if record.finished_at.tzinfo else record.finished_at.replace(tzinfo=UTC)
        return LastBuild(record.project_checksum, record.dbt_version, finished_at, snapshots)

    def record_build(self, target: str, project_checksum: str, snapshots: Mapping[str, int | None]) -> None:
        with self.engine.begin() as connection:
            connection.execute(build_record.delete().where(build_record.c.target == target))
            connection.execute(build_sources.delete().where(build_sources.c.target == target))
            connection.execute(
                build_record.insert().values(
                    target=target,
                    project_checksum=project_checksum,
                    dbt_version=dbt_version(),
                    finished_at=datetime.now(UTC),
                )
            )
            if snapshots:
                connection.execute(
                    build_sources.insert(),
                    [{"target": target, "source": name, "snapshot_id": value} for name, value in snapshots.items()],
                )


def source_snapshots(manifest: dict[str, Any], catalog: Catalog, schema: str = "bronze") -> dict[str, int | None]:
    """The current snapshot id of every existing table the project reads as a source in ``schema``."""
    snapshots: dict[str, int | None] = {}
    for source in manifest.get("sources", {}).values():
        if source["schema"] != schema:
            continue
        identifier = (source["schema"], source.get("identifier") or source["name"])
        if catalog.table_exists(identifier):
            snapshots[f"{source['source_name']}.{source['name']}"] = catalog.load_table(
                identifier
            ).metadata.current_snapshot_id
    return snapshots


def project_checksum(project_dir: Path) -> str:
    """A checksum of every file of the dbt project (models, macros, seeds, YAML, profiles)."""
    digest = hashlib.sha256()
    for path in sorted(project_dir.rglob("*")):
        relative = path.relative_to(project_dir)
        if not path.is_file() or IGNORED_PARTS.intersection(relative.parts) or path.name.endswith(IGNORED_SUFFIXES):
            continue
        digest.update(relative.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def dbt_version() -> str:
    return metadata.version("dbt-core")


def plan_build(
    last: LastBuild | None,
    snapshots: Mapping[str, int | None],
    checksum: str,
    saved_manifest: Path,
    *,
    full: bool = False,
    relations_kept_beside_manifest: bool = False,
) -> BuildPlan:
    """Compare the bronze tables and the project with the last successful build.

    ``relations_kept_beside_manifest``: the relations dbt built live in the same folder as the saved manifest
    (the local DuckDB file); without that manifest they may be gone too, and everything is built.
    """
    if full:
        return BuildPlan(None, "a full build was asked for")
    if last is None:
        return BuildPlan(None, "no earlier build recorded in this lakehouse")
    if relations_kept_beside_manifest and not saved_manifest.is_file():
        return BuildPlan(None, f"no record of the last build in {saved_manifest.parent}")
    if last.dbt_version != dbt_version():
        return BuildPlan(None, f"dbt {dbt_version()} replaces {last.dbt_version}")
    changed = sorted(
        name for name, snapshot in snapshots.items() if name not in last.snapshots or last.snapshots[name] != snapshot
    )
    project_changed = checksum != last.project_checksum
    if project_changed and not saved_manifest.is_file():
        return BuildPlan(
            None, f"the dbt project changed and the last build's manifest is not in {saved_manifest.parent}"
        )
    built_at = f"{last.finished_at:%Y-%m-%d %H:%M} UTC"
    if not changed and not project_changed:
        return BuildPlan([], f"no bronze table changed since the last successful build ({built_at})")
    selection = [f"source:{name}+" for name in changed] + (["state:modified+"] if project_changed else [])
    reasons = []
    if changed:
        reasons.append(
            f"{len(changed)} bronze {'table' if len(changed) == 1 else 'tables'} changed: {', '.join(changed)}"
        )
    if project_changed:
        reasons.append("the dbt project changed (dbt's state:modified)")
    reason = "; ".join(reasons) + f" since the last successful build ({built_at})"
    return BuildPlan(selection, reason, changed_sources=changed, project_changed=project_changed)


def save_manifest(manifest: Path, state_dir: Path) -> None:
    """Keep the manifest of a successful build: ``state:modified`` compares the next project with it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    temporary = state_dir / ".manifest.json.tmp"
    shutil.copyfile(manifest, temporary)
    temporary.replace(state_dir / "manifest.json")
