"""Prometheus' statsd_exporter on 127.0.0.1 with a mapping file: StatsD over UDP in, ``/metrics`` out.

    with running_statsd_exporter(base_dir, mapping_file) as exporter:
        exporter.send(b"airflow.scheduler_heartbeat:1|c")
        text = exporter.metrics()

The exporter is the one the Airflow chart deploys (its ``statsd`` component); no registry here ships its binary,
so it is built from its Go module, once, into the versioned cache (as MinIO is):

    <cache>/statsd_exporter/<version>/statsd_exporter
"""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from civiclake.servers.cache import cache_root, cached_entry
from civiclake.servers.minio import go_install
from civiclake.servers.process import (
    ServerUnavailableError,
    free_tcp_port,
    http_status,
    start_process,
    stop_process,
    tail_of,
    wait_until,
)

MODULE = "github.com/prometheus/statsd_exporter"
VERSION = "v0.31.0"


def install_statsd_exporter(version: str = VERSION, *, cache: Path | None = None) -> Path:
    """The statsd_exporter binary of ``version``, from the cache, built the first time (about 20 s)."""
    root = cache or cache_root()

    def build(scratch: Path) -> None:
        go_install(MODULE, version, "statsd_exporter", scratch, root)

    return cached_entry("statsd_exporter", version, build, root=root) / "statsd_exporter"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class StatsdExporter:
    udp_port: int
    metrics_url: str
    log_file: Path

    def send(self, datagram: bytes) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(datagram, ("127.0.0.1", self.udp_port))

    def metrics(self) -> str:
        with urllib.request.urlopen(self.metrics_url, timeout=10) as response:
            return str(response.read().decode("utf-8"))

    def sample(self, name: str) -> float:
        """The sum of the samples of one of the exporter's own metrics, over its labels (0 when absent)."""
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith((f"{name} ", f"{name}{{")):
                total += float(line.rsplit(" ", 1)[1])
        return total


@contextmanager
def running_statsd_exporter(base_dir: Path, mapping_file: Path) -> Iterator[StatsdExporter]:
    binary = install_statsd_exporter()
    base_dir.mkdir(parents=True, exist_ok=True)
    log_file = base_dir / "statsd_exporter.log"
    udp_port, web_port = free_udp_port(), free_tcp_port()
    command = [
        str(binary),
        f"--statsd.mapping-config={mapping_file}",
        f"--statsd.listen-udp=127.0.0.1:{udp_port}",
        "--statsd.listen-tcp=",
        "--statsd.listen-unixgram=",
        f"--web.listen-address=127.0.0.1:{web_port}",
    ]
    process = start_process(command, log_file=log_file)
    exporter = StatsdExporter(udp_port, f"http://127.0.0.1:{web_port}/metrics", log_file)

    def ready() -> bool:
        if process.poll() is not None:
            raise ServerUnavailableError(f"statsd_exporter exited with code {process.returncode}:\n{tail_of(log_file)}")
        return http_status(exporter.metrics_url) == 200

    try:
        wait_until(ready, 30, "statsd_exporter", lambda: tail_of(log_file))
        yield exporter
    finally:
        stop_process(process)


# Counted once an event has been mapped or dropped, hence visible in /metrics; lines_total counts lines read, whose
# events still wait in the exporter's queue (flushed every 200 ms).
HANDLED = "statsd_exporter_events_actions_total"


def send_and_settle(exporter: StatsdExporter, datagrams: list[bytes], timeout: float = 10) -> None:
    """Send every datagram, then wait until the exporter has handled them all (UDP gives no acknowledgement)."""
    lines = sum(1 for datagram in datagrams for line in datagram.splitlines() if line.strip())
    expected = exporter.sample(HANDLED) + lines
    for datagram in datagrams:
        exporter.send(datagram)
        time.sleep(0.002)  # a burst of hundreds of datagrams overflows the socket's receive buffer
    deadline = time.monotonic() + timeout
    while exporter.sample(HANDLED) < expected:
        if time.monotonic() > deadline:
            handled = exporter.sample(HANDLED) - expected + lines
            raise TimeoutError(f"statsd_exporter handled {handled:g} of {lines} lines\n{tail_of(exporter.log_file)}")
        time.sleep(0.1)
