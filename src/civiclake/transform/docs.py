"""``civiclake docs``: dbt's documentation site, the data catalogue of the active profile's lakehouse.

``dbt docs generate`` runs the way ``civiclake transform`` runs dbt (same project, target, DuckDB file and
extensions, same sources left out when their bronze table is missing), so the catalogue shows the columns and
types of the tables this lakehouse holds. The site is three files: ``index.html`` (dbt's single-page app),
``manifest.json`` (models, descriptions, lineage) and ``catalog.json`` (the relations found in the warehouse).
They are copied from dbt's target folder into a folder of their own, the only one served: the target folder
also holds compiled SQL and run results, which a documentation site has no reason to publish.
"""

from __future__ import annotations

import functools
import json
import shutil
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rich.console import Console

from civiclake.config import Settings
from civiclake.transform.project import DbtProject, TransformError
from civiclake.transform.runner import excluding_missing_sources, prepare_and_parse
from civiclake.warehouse.catalog import open_catalog

SITE_FILES = ("index.html", "manifest.json", "catalog.json")
LOCALHOST = "127.0.0.1"


@dataclass(frozen=True)
class DocsSite:
    directory: Path
    models: int  # models in the project
    built: int  # of which the warehouse holds a relation (their columns and types are in the catalogue)

    @property
    def index(self) -> Path:
        return self.directory / "index.html"


def generate_docs(settings: Settings, console: Console, *, project: DbtProject | None = None) -> DocsSite:
    """Run ``dbt docs generate`` on the active profile's lakehouse; the site's files go to ``<work dir>/docs``."""
    project = project or DbtProject.from_settings(settings)
    missing = prepare_and_parse(project, open_catalog(settings), console)
    output: list[str] = []
    if project.run(["docs", "generate", *excluding_missing_sources(missing)], on_line=output.append) != 0:
        for line in output:
            console.out(line, highlight=False)
        raise TransformError(f"dbt docs generate failed for the project in {project.project_dir} (output above)")
    directory = project.work_dir / "docs"
    directory.mkdir(parents=True, exist_ok=True)
    for name in SITE_FILES:
        source = project.target_path / name
        if not source.is_file():
            raise TransformError(f"dbt docs generate did not write {source}")
        shutil.copyfile(source, directory / name)
    manifest = _read(directory / "manifest.json")
    catalog = _read(directory / "catalog.json")
    models = [key for key, node in manifest.get("nodes", {}).items() if node.get("resource_type") == "model"]
    built = sum(1 for key in models if key in catalog.get("nodes", {}))
    return DocsSite(directory, len(models), built)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request (dbt's page asks for each file) would bury the address printed above


def docs_server(directory: Path, port: int) -> ThreadingHTTPServer:
    """An HTTP server on 127.0.0.1:``port`` serving ``directory`` only (``serve_forever`` to run it).

    Raises OSError when the port cannot be bound (in use, or privileged).
    """
    handler = functools.partial(_QuietHandler, directory=str(directory))
    return ThreadingHTTPServer((LOCALHOST, port), handler)


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))
