"""Ctrl-C: a real `civiclake sync` process, interrupted while it waits on a slow server, exits 130 (128 + SIGINT)
with a short message: not 1, which says that some resources failed, and no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from civiclake.demo.mirror.server import Fault, MirrorServer
from tests.pipeline.lakehouse import CODES_POSTAUX, CODES_POSTAUX_CSV

pytestmark = pytest.mark.integration

COMMAND = [sys.executable, "-c", "from civiclake.cli.main import main; main()"]


def test_ctrl_c_during_a_sync_exits_130_with_a_short_message(tmp_path: Path, mirror: MirrorServer) -> None:
    mirror.inject_fault(CODES_POSTAUX_CSV, Fault.slow(120), times=None)
    environment = {name: value for name, value in os.environ.items() if not name.startswith("CIVICLAKE")}
    environment.update(
        CIVICLAKE_HOME=str(tmp_path / "home"),
        CIVICLAKE_SECRETS_DIR=str(tmp_path / "no-secrets"),
        CIVICLAKE__DATAGOUV__API_URL=mirror.api_url,
        CIVICLAKE__HTTP__READ_TIMEOUT_SECONDS="300",
        COLUMNS="200",
    )
    with subprocess.Popen(
        [*COMMAND, "sync", "--dataset", CODES_POSTAUX],
        env=environment,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            # The dataset's description answered: the process is inside the sync, its download held by the server.
            deadline = time.monotonic() + 120
            while not any(CODES_POSTAUX in record.path for record in mirror.requests):
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the sync never asked for its dataset"
                time.sleep(0.1)
            time.sleep(1)
            process.send_signal(signal.SIGINT)
            stdout, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 130, (stdout, stderr)
    assert "interrupted" in stderr and "Ctrl-C" in stderr
    assert "Traceback" not in stderr and "Aborted!" not in stderr
