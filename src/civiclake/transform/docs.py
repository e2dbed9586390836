"""``civiclake docs``: dbt's documentation site, the data catalogue of the active profile's lakehouse.

``dbt docs generate`` runs the way ``civiclake transform`` runs dbt (same project, target, DuckDB file and
extensions, same sources left out when their bronze table is missing), so the catalogue shows the columns and
types of the tables this lakehouse holds. The site is three files: ``index.html`` (dbt's single-page app),
``manifest.json`` (models, descriptions, lineage) and ``catalog.json`` (the relations found in the warehouse).
They are copied from dbt's target folder into a folder of their own, the only one served: the target folder
also holds compiled SQL and run results, which a documentation site has no reason to publish.
"""

from __future__ import annotations

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


class DocsServer(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 serving ``directory`` only; bound at creation (a port in use fails at once),
    serving once ``serve_forever`` runs, so the site can be built in between."""

    def __init__(self, port: int, directory: Path) -> None:
        self.directory = directory
        super().__init__((LOCALHOST, port), _DocsHandler)


class _DocsHandler(SimpleHTTPRequestHandler):
    server: DocsServer

    def __init__(self, request: Any, client_address: Any, server: DocsServer) -> None:
        super().__init__(request, client_address, server, directory=str(server.directory))

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request (dbt's page asks for each file) would bury the address printed above


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))
