"""A server that drips its bytes, never idle long enough for the read timeout: the download's overall deadline
ends it, the failure names the resource, and nothing of it is kept."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from civiclake.cli.main import cli
from civiclake.config import Settings, load_settings
from civiclake.demo.mirror.server import MirrorServer
from civiclake.errors import ConfigurationError
from civiclake.sources.http import download_deadline_seconds
from tests.pipeline.lakehouse import Lakehouse

GOOD_ID = "aaaaaaaa-0000-4000-8000-000000000002"
SLOW_ID = "bbbbbbbb-0000-4000-8000-000000000002"
DRIPPED = b"code;nom\n" + b"".join(b"%05d;commune\n" % index for index in range(3))  # 51 bytes
DRIP_INTERVAL_SECONDS = 0.1  # well inside the read timeout: only an overall deadline stops it


class _DripHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(DRIPPED)))
        self.end_headers()
        try:
            for index in range(len(DRIPPED)):
                self.wfile.write(DRIPPED[index : index + 1])
                self.wfile.flush()
                time.sleep(DRIP_INTERVAL_SECONDS)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up: what the deadline is for

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def drip_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DripHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/slow.csv"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.integration
def test_a_dripping_download_fails_at_its_deadline_and_leaves_nothing(
    settings: Settings, mirror: MirrorServer, drip_server: str
) -> None:
    # 51 bytes at 0.1 s each take ~5 s; the deadline is 1 s (the floor: 51 B / 1 kB/s is less).
    settings = settings.with_overrides(
        http={"download_deadline_floor_seconds": 1, "download_min_bytes_per_second": 1000}
    )
    lakehouse = Lakehouse(settings)
    mirror.add_dataset(
        {
            "id": "goutte-a-goutte",
            "resources": [
                {"id": GOOD_ID, "title": "Fichier rapide", "format": "csv"},
                {"id": SLOW_ID, "title": "Fichier lent", "format": "csv", "url": drip_server},
            ],
        },
        {GOOD_ID: b"code;nom\n01001;Ain\n"},
    )

    report = lakehouse.sync("goutte-a-goutte")

    outcomes = {outcome.resource_id: outcome for outcome in report.outcomes}
    assert outcomes[GOOD_ID].status == "loaded"
    slow = outcomes[SLOW_ID]
    assert slow.status == "failed", slow
    assert "Fichier lent" in slow.error and SLOW_ID in slow.error
    assert "timed out" in slow.error and "deadline of 1 s" in slow.error, slow.error
    recorded = [row for row in lakehouse.meta("ingestions").to_pylist() if row["resource_id"] == SLOW_ID]
    assert [(row["status"], row["error"]) for row in recorded] == [("failed", slow.error)]
    assert lakehouse.table_names() == {"bronze.datagouv__goutte_a_goutte__fichier_rapide"}
    # Nothing of the partial download is kept: no scratch file, no raw file.
    assert not [path for path in settings.scratch_dir.rglob("*") if path.is_file()]
    assert not [path for path in (settings.home / "lake").rglob("*fichier_lent*") if path.is_file()]


def test_the_deadline_scales_with_the_announced_size_above_its_floor(settings: Settings) -> None:
    http = settings.with_overrides(
        http={"download_deadline_floor_seconds": 60, "download_min_bytes_per_second": 1_000_000}
    ).http
    assert download_deadline_seconds(http, None) == 60
    assert download_deadline_seconds(http, 1_000_000) == 60
    assert download_deadline_seconds(http, 600_000_000) == 600


@pytest.mark.parametrize("key", ["DOWNLOAD_DEADLINE_FLOOR_SECONDS", "DOWNLOAD_MIN_BYTES_PER_SECOND"])
@pytest.mark.parametrize("value", ["0", "-5"])
def test_a_deadline_setting_that_is_not_positive_is_refused_by_name(key: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=f"CIVICLAKE__HTTP__{key}"):
        load_settings(environ={f"CIVICLAKE__HTTP__{key}": value})


def test_the_command_line_exits_2_naming_a_deadline_setting_that_is_not_positive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIVICLAKE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CIVICLAKE__HTTP__DOWNLOAD_MIN_BYTES_PER_SECOND", "0")
    result = CliRunner().invoke(cli, ["status"], obj={})
    assert result.exit_code == 2, result.output
    assert "CIVICLAKE__HTTP__DOWNLOAD_MIN_BYTES_PER_SECOND" in result.output
