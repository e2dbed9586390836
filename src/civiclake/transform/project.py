"""Where the dbt project is, where its runs write, and how dbt is invoked.

The project (models, macros, profiles.yml) stays read-only: dbt's ``target/`` and ``logs/`` and the local
DuckDB database go to ``CIVICLAKE_HOME/dbt``, so a run never writes into the checkout and each lakehouse keeps
its own incremental state. dbt runs in a child process: its logging, its global flags and its warnings stay
out of civiclake's process, and the same command line works by hand.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from civiclake.config import Settings
from civiclake.errors import ConfigurationError, TerminalError
from civiclake.privacy.keys import dbt_environment

# The checkout's dbt/ folder: src/civiclake/transform/project.py -> <checkout>/dbt
CHECKOUT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt"
SILVER, GOLD = "silver", "gold"
PUBLISHED_SCHEMAS = (SILVER, GOLD)


class TransformError(TerminalError):
    """dbt could not run, or its results could not be read or published."""


@dataclass(frozen=True)
class DbtProject:
    """A dbt project and the working folder of one lakehouse."""

    project_dir: Path
    work_dir: Path
    target: str
    # Variables dbt needs that are secrets (the pseudonymisation key): given to the child process, never logged.
    secret_environment: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> DbtProject:
        target = settings.transform.target or ("trino" if settings.profile == "cluster" else "duckdb")
        if target == "duckdb" and settings.profile == "cluster":
            raise ConfigurationError(
                "the duckdb dbt target runs on the local profile only; on the cluster profile dbt runs on Trino "
                "(unset CIVICLAKE__TRANSFORM__TARGET or set it to trino)"
            )
        return cls(locate_project_dir(settings), (settings.home / "dbt").resolve(), target, dbt_environment(settings))

    @property
    def target_path(self) -> Path:
        return self.work_dir / "target"

    @property
    def log_path(self) -> Path:
        return self.work_dir / "logs"

    @property
    def last_build_path(self) -> Path:
        """The manifest of the last successful build, for dbt's ``state:modified`` (``--state``)."""
        return self.work_dir / "last-build"

    @property
    def duckdb_path(self) -> Path:
        return self.work_dir / "warehouse.duckdb"

    @property
    def extensions_dir(self) -> Path:
        """Shared with ``civiclake sql``: the extensions are installed once per lakehouse."""
        return self.work_dir.parent / "duckdb_extensions"

    @property
    def generated_staging_dir(self) -> Path:
        return self.project_dir / "models" / "staging" / "datagouv" / "generated"

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The child process's environment: dbt's paths and the DuckDB profile's two variables."""
        environment = dict(os.environ)
        environment.update(
            {
                "DBT_PROJECT_DIR": str(self.project_dir),
                "DBT_PROFILES_DIR": str(self.project_dir),
                "DBT_TARGET_PATH": str(self.target_path),
                "DBT_LOG_PATH": str(self.log_path),
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                "DBT_TARGET": self.target,
                "CIVICLAKE_DBT_DUCKDB_PATH": str(self.duckdb_path),
                "CIVICLAKE_DBT_DUCKDB_EXTENSIONS": str(self.extensions_dir),
            }
        )
        environment.update(self.secret_environment)
        environment.update(extra or {})
        return environment

    def run(
        self,
        arguments: Sequence[str],
        *,
        on_line: Callable[[str], None] | None = None,
        extra_environment: Mapping[str, str] | None = None,
    ) -> int:
        """Run ``dbt <arguments>`` for this project and target; each output line goes to ``on_line``."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        # dbt's own console script, run by this interpreter (``-m dbt.cli.main`` warns about a double import)
        command = [sys.executable, "-c", "import sys; from dbt.cli.main import cli; sys.exit(cli())", *arguments]
        with subprocess.Popen(
            command,
            cwd=self.project_dir,
            env=self.environment(extra_environment),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                if on_line is not None:
                    on_line(line.rstrip("\n"))
            return process.wait()

    def manifest(self) -> dict[str, Any]:
        return _read_json(self.target_path / "manifest.json")

    def run_results(self) -> dict[str, Any]:
        return _read_json(self.target_path / "run_results.json")


def locate_project_dir(settings: Settings) -> Path:
    """The configured project, else the checkout's dbt/ folder, else ./dbt."""
    candidates = (
        [settings.transform.project_dir] if settings.transform.project_dir else [CHECKOUT_PROJECT_DIR, Path("dbt")]
    )
    for candidate in candidates:
        if (candidate / "dbt_project.yml").is_file():
            return candidate.resolve()
    raise ConfigurationError(
        f"no dbt project (dbt_project.yml) in {', '.join(str(c) for c in candidates)}: "
        "set CIVICLAKE__TRANSFORM__PROJECT_DIR to the folder of civiclake's dbt project"
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TransformError(f"{path} is missing: dbt stopped before writing it (see its output above)") from None
