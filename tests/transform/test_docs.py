"""`civiclake docs`, the data catalogue, as a user sees it: the installed command generates dbt's site for a built
lakehouse and serves it on localhost; Debian's headless chromium opens it, finds the gold models with their
descriptions and column types, and opens the lineage graph. And dbt run by hand in the project's folder works
offline, leaving only files the checkout ignores.

The lakehouse holds the data.gouv.fr demo datasets only (the bundled mirror): the open-data gold models are
built, the other sources are skipped as `transform` skips them, which keeps the module to a couple of minutes.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import BrowserContext, Page, expect

from civiclake.demo.mirror.server import MirrorServer
from civiclake.servers.process import free_tcp_port, http_status, start_process, tail_of, wait_until
from civiclake.transform.project import CHECKOUT_PROJECT_DIR
from tests.servers.chromium import running_chromium
from tests.transform.lakehouse import DbtLakehouse, clear_civiclake_environment, copy_dbt_project

pytestmark = pytest.mark.integration

CIVICLAKE = Path(sys.executable).with_name("civiclake")  # the console scripts pyproject.toml installs
DBT = Path(sys.executable).with_name("dbt")
# Gold models of the open-data domain, each with a column and the type DuckDB gives it (from catalog.json)
GOLD_MODELS = {"dim_station": ("station_uic_code", "VARCHAR"), "dim_commune": ("commune_insee_code", "VARCHAR")}
GOLD_MODELS_LISTED = ("dim_station", "dim_commune", "fct_station_ridership", "dim_year")
SLOW_PAGE_MS = 30_000  # the page parses a manifest of a few MB before it draws anything


@dataclass
class ServedDocs:
    lakehouse: DbtLakehouse
    process: subprocess.Popen[bytes]
    url: str
    log: Path


@pytest.fixture(scope="module")
def open_data_lakehouse(tmp_path_factory: pytest.TempPathFactory) -> DbtLakehouse:
    lakehouse = DbtLakehouse.create(tmp_path_factory.mktemp("docs"))
    with pytest.MonkeyPatch.context() as patch:
        clear_civiclake_environment(patch)
        with MirrorServer() as mirror:
            lakehouse.sync_datagouv(mirror)
        result = lakehouse.civiclake("transform")
    assert result.exit_code == 0, result.output
    return lakehouse


@pytest.fixture(scope="module")
def served_docs(open_data_lakehouse: DbtLakehouse, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedDocs]:
    """`civiclake docs --port PORT`, the installed command in its own process, until the module ends."""
    port = free_tcp_port()
    log = tmp_path_factory.mktemp("docs-server") / "civiclake-docs.log"
    environment = {name: value for name, value in os.environ.items() if not name.startswith("CIVICLAKE")}
    process = start_process(
        [str(CIVICLAKE), "docs", "--port", str(port)],
        log_file=log,
        env={**environment, **open_data_lakehouse.environment},
        cwd=open_data_lakehouse.home.parent,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until(
            lambda: process.poll() is not None or http_status(url) == 200,
            timeout=600,
            what="civiclake docs",
            diagnostics=lambda: tail_of(log),
        )
        assert process.poll() is None, f"civiclake docs exited with {process.returncode}:\n{tail_of(log)}"
        yield ServedDocs(open_data_lakehouse, process, url, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    with running_chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        context.set_default_timeout(SLOW_PAGE_MS)
        yield context


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    page = browser.new_page()
    yield page
    page.close()


def model_description(project_dir: Path, name: str) -> str:
    """The model's description in its YAML file, as the page shows it (markdown's code marks dropped)."""
    (path,) = project_dir.glob(f"models/marts/**/{name}.yml")
    (model,) = [m for m in yaml.safe_load(path.read_text(encoding="utf-8"))["models"] if m["name"] == name]
    return _plain(model["description"])


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("`", "")).strip()


def open_gold_schema(page: Page, url: str) -> None:
    """The Database tab of the sidebar: the warehouse, then its gold schema (tables and views of the warehouse)."""
    page.goto(url)
    tree = page.locator("model-tree")
    tree.locator(".switch-label", has_text="Database").click()
    tree.get_by_text("warehouse", exact=True).click()
    tree.get_by_text("gold", exact=True).click()


def test_docs_prints_where_it_serves_the_site(served_docs: ServedDocs) -> None:
    output = served_docs.log.read_text()
    docs_folder = served_docs.lakehouse.home.resolve() / "dbt" / "docs"
    assert f"dbt docs in {docs_folder} (index.html, manifest.json, catalog.json)" in output
    assert f"serving the docs on {served_docs.url}" in output


def test_docs_site_lists_the_gold_models_in_the_gold_schema(served_docs: ServedDocs, page: Page) -> None:
    open_gold_schema(page, served_docs.url)
    tree = page.locator("model-tree")
    for name in GOLD_MODELS_LISTED:
        # a node's text is split over spans (for the ellipsis), its title is the relation's name
        expect(tree.locator(f'[title="{name}"]:visible')).to_have_count(1)


@pytest.mark.parametrize("model", sorted(GOLD_MODELS))
def test_docs_site_shows_a_gold_model_with_its_description_and_column_types(
    served_docs: ServedDocs, page: Page, model: str
) -> None:
    open_gold_schema(page, served_docs.url)
    page.locator("model-tree").get_by_text(model, exact=True).locator("visible=true").click()
    expect(page).to_have_url(re.compile(rf"#!/model/model\.civiclake\.{model}$"))
    description = page.locator("#description").locator("xpath=..").locator(".model-markdown")
    expect(description).to_have_text(model_description(served_docs.lakehouse.project_dir, model))
    # The column's type comes from catalog.json: the warehouse holds the table, and the site read the catalogue.
    column, column_type = GOLD_MODELS[model]
    row = page.locator("#columns").locator("xpath=..").locator("tr", has_text=column).first
    expect(row).to_contain_text(column_type)


def test_docs_lineage_graph_opens_and_draws_the_model_and_its_parents(served_docs: ServedDocs, page: Page) -> None:
    page.goto(f"{served_docs.url}#!/model/model.civiclake.dim_station")
    expect(page.locator(".model-markdown").first).to_be_visible()
    page.locator(".btn-info.btn-pill").click()  # the round graph button at the bottom right
    expect(page.get_by_text("Lineage Graph", exact=True)).to_be_visible()
    canvases = page.locator("#cy canvas")
    expect(canvases.first).to_be_visible()
    # cytoscape draws nodes and edges on a canvas: some pixels of one of its layers are no longer transparent
    painted = """canvases => Math.max(...canvases.map(canvas => {
        const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let painted = 0;
        for (let alpha = 3; alpha < pixels.length; alpha += 4) if (pixels[alpha] > 0) painted++;
        return painted;
    }))"""
    page.wait_for_function(
        f"() => ({painted})(Array.from(document.querySelectorAll('#cy canvas'))) > 1000", timeout=SLOW_PAGE_MS
    )


def test_docs_server_serves_the_docs_folder_only(served_docs: ServedDocs) -> None:
    for name in ("index.html", "manifest.json", "catalog.json"):
        assert http_status(served_docs.url + name) == 200
    # dbt's target folder (compiled SQL, run results) and the lakehouse beside it stay unpublished
    for path in ("run_results.json", "compiled/", "../target/run_results.json", "..%2Fwarehouse.duckdb"):
        assert http_status(served_docs.url + path) == 404, path


def test_docs_stops_on_ctrl_c(served_docs: ServedDocs) -> None:
    # Last in the module: the other tests use the running server.
    served_docs.process.send_signal(signal.SIGINT)
    assert served_docs.process.wait(timeout=30) == 0, tail_of(served_docs.log)
    assert http_status(served_docs.url) is None


def test_docs_generate_only_builds_the_site_and_says_where(open_data_lakehouse: DbtLakehouse) -> None:
    result = open_data_lakehouse.civiclake("docs", "--no-serve")
    assert result.exit_code == 0, result.output
    docs_folder = open_data_lakehouse.home.resolve() / "dbt" / "docs"
    assert sorted(path.name for path in docs_folder.iterdir()) == ["catalog.json", "index.html", "manifest.json"]
    assert f"dbt docs in {docs_folder}" in result.output
    assert "serving" not in result.output


def test_dbt_by_hand_in_the_project_folder_works_offline_and_leaves_only_ignored_files(tmp_path: Path) -> None:
    project = copy_dbt_project(tmp_path / "dbt")
    before = {path.relative_to(project) for path in project.rglob("*")}
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CIVICLAKE", "DBT_"))  # the profile's own defaults, as in a fresh shell
    }
    result = subprocess.run(
        [str(DBT), "docs", "generate", "--select", "dim_year"],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (project / "target" / "index.html").is_file()
    left = {path.relative_to(project) for path in project.rglob("*")} - before
    # git matches a pattern ending in / against directories only: name them as such
    top_level = sorted({f"dbt/{path.parts[0]}" + ("/" if (project / path.parts[0]).is_dir() else "") for path in left})
    assert top_level, "dbt wrote nothing into its folder"
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *top_level],
        cwd=CHECKOUT_PROJECT_DIR.parent,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert sorted(ignored) == top_level


def test_docs_on_a_port_in_use_exits_2_naming_the_option_before_building(tmp_path: Path) -> None:
    lakehouse = DbtLakehouse.create(tmp_path)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = lakehouse.civiclake("docs", "--port", str(port))
    assert result.exit_code == 2
    assert f"--port {port}: cannot listen on 127.0.0.1: Address already in use" in result.output
    assert not (lakehouse.home / "dbt").exists()  # nothing was built
