"""`civiclake serve postgres`: the throwaway PostgreSQL the README's OLTP walkthrough uses, as a real process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from civiclake.servers.process import free_tcp_port, wait_until
from tests.servers.postgres import ensure_postgres_installed

pytestmark = pytest.mark.integration

CIVICLAKE = str(Path(sys.executable).with_name("civiclake"))


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_serve_postgres_feeds_the_walkthrough_and_leaves_nothing_when_killed(tmp_path: Path) -> None:
    ensure_postgres_installed()
    port = free_tcp_port()
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        server = subprocess.Popen([CIVICLAKE, "serve", "postgres", "--port", str(port)], stdout=output, stderr=output)
    try:
        wait_until(
            lambda: "Ctrl-C stops it" in log.read_text(),
            timeout=60,
            what="civiclake serve postgres",
            diagnostics=log.read_text,
        )
        exports = next(line for line in log.read_text().splitlines() if line.startswith("export "))
        environment = dict(item.split("=", 1) for item in exports.removeprefix("export ").split())
        assert environment["CIVICLAKE__POSTGRES__PORT"] == str(port)

        dsn = f"host=127.0.0.1 port={port} dbname=shopstream user=civiclake"
        run = {**os.environ, **environment, "CIVICLAKE_HOME": str(tmp_path / "home")}
        generated = subprocess.run(
            [CIVICLAKE, "generate", "shopstream", "--dsn", dsn, "--scale", "0.05"], env=run, capture_output=True
        )
        assert generated.returncode == 0, generated.stderr
        synced = subprocess.run(
            [CIVICLAKE, "sync", "--source", "postgres", "--summary-json", str(tmp_path / "sync.json")],
            env=run,
            capture_output=True,
        )
        assert synced.returncode == 0, synced.stdout + synced.stderr
        assert "bronze.postgres__shopstream__orders" in (tmp_path / "sync.json").read_text()
    finally:
        server.send_signal(signal.SIGTERM)  # what `kill %1` sends to the README's background job
        server.wait(timeout=60)

    assert server.returncode == 0
    assert not _port_open(port)
    (data_dir,) = (line.split()[-1] for line in log.read_text().splitlines() if line.startswith("data "))
    assert not Path(data_dir).exists()
