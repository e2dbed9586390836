"""Credentials in URLs never reach output: a catalogue whose resource links carry a user, a password and a token.

One link downloads (its bytes are kept with a manifest), one answers 404 (its error is printed, summarised and
recorded). The password and the token appear nowhere: stdout, stderr, the summary JSON, manifests, meta tables.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from civiclake.cli.main import cli
from civiclake.config import load_settings
from civiclake.demo.mirror.server import MirrorServer
from civiclake.warehouse.catalog import open_catalog
from civiclake.warehouse.meta import META_TABLES, MetaTables

pytestmark = pytest.mark.integration

PASSWORD = "pw-9f1c2e"
TOKEN = "tk-77a0b3"
PUBLIC_ID = "aaaaaaaa-0000-4000-8000-000000000001"
PROTECTED_ID = "aaaaaaaa-0000-4000-8000-000000000002"
MISSING_ID = "aaaaaaaa-0000-4000-8000-000000000003"
FILE_PATH = "/resources/acces-restreint/communes.csv"


def test_no_password_nor_token_in_output_summary_manifests_or_meta_tables(
    tmp_path: Path, mirror: MirrorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    authority = f"http://etl:{PASSWORD}@{mirror.base_url.removeprefix('http://')}"
    mirror.add_dataset(
        {
            "id": "acces-restreint",
            "resources": [
                {"id": PUBLIC_ID, "title": "Public", "url": f"https://static.data.gouv.fr{FILE_PATH}"},
                {"id": PROTECTED_ID, "title": "Protege", "url": f"{authority}{FILE_PATH}?token={TOKEN}"},
                {"id": MISSING_ID, "title": "Absent", "url": f"{authority}/absent.csv?token={TOKEN}"},
            ],
        },
        {PUBLIC_ID: b"code;nom\n01001;L'Abergement-Clemenciat\n01002;L'Abergement-de-Varey\n"},
    )
    home = tmp_path / "home"
    for name, value in {
        "CIVICLAKE_HOME": str(home),
        "CIVICLAKE__DATAGOUV__API_URL": mirror.api_url,
        "CIVICLAKE__HTTP__MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    summary = tmp_path / "summary.json"

    result = CliRunner().invoke(
        cli, ["sync", "--dataset", "acces-restreint", "--summary-json", str(summary)], obj={}, catch_exceptions=False
    )

    # The protected link was downloaded and the absent one failed, each recorded: the secrets had their chance.
    assert result.exit_code == 1, result.output
    assert "404" in result.output and MISSING_ID in result.output
    manifests = list((home / "lake").rglob("*.manifest.json"))
    protected = [json.loads(path.read_text()) for path in manifests if PROTECTED_ID in path.read_text()]
    assert protected and protected[0]["source_url"].startswith("http://***@")
    assert json.loads(summary.read_text())["errors"]

    places = {"output": result.output, "summary": summary.read_text()}
    places.update({str(path): path.read_text() for path in manifests})
    meta = MetaTables(open_catalog(load_settings()))
    for name in META_TABLES:
        places[f"meta.{name}"] = str(meta.read(name).to_pylist()) if meta.catalog.table_exists(f"meta.{name}") else ""
    assert "404" in places["meta.ingestions"]
    for place, text in places.items():
        assert PASSWORD not in text and TOKEN not in text, place
