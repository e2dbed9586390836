"""A real Pushgateway scraped by a real Prometheus (Debian's binaries) on free ports of 127.0.0.1.

    with running_prometheus(tmp_dir, rule_files) as servers:
        push_to_gateway(servers.pushgateway_url, ...)
        servers.query("up")

Prometheus scrapes the Pushgateway every second (``honor_labels``, job ``prometheus-pushgateway`` as the
prometheus-community chart names it) and evaluates ``rule_files`` every second. Both are killed on exit.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.servers import free_tcp_port, tail_of, wait_until
from tests.servers.debian import ensure_debian_packages

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
PUSHGATEWAY = "/usr/bin/prometheus-pushgateway"


def ensure_prometheus() -> None:
    ensure_debian_packages(["prometheus", "prometheus-pushgateway"], [PROMETHEUS, PROMTOOL, PUSHGATEWAY])


@dataclass
class PrometheusServers:
    pushgateway_url: str
    prometheus_url: str
    logs: dict[str, Path]

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.prometheus_url}/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        if body.get("status") != "success":
            raise AssertionError(f"Prometheus refused {expr!r}: {body.get('error')}")
        result = body["data"]["result"]
        return result if isinstance(result, list) else [{"value": result}]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        params = {"query": expr, "start": start, "end": end, "step": step}
        body = httpx.get(f"{self.prometheus_url}/api/v1/query_range", params=params, timeout=10).json()
        if body.get("status") != "success":
            raise AssertionError(f"Prometheus refused {expr!r}: {body.get('error')}")
        return list(body["data"]["result"])

    def get(self, path: str) -> Any:
        return httpx.get(f"{self.prometheus_url}{path}", timeout=10).json()["data"]

    def diagnostics(self) -> str:
        return "\n".join(f"--- {name} ---\n{tail_of(path)}" for name, path in self.logs.items())


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _every_second(rule_files: list[Path], directory: Path) -> list[Path]:
    """Copies of the rule files with each group evaluated every second.

    The chart's groups run every 30 s, which a test would wait out (the first evaluation lands anywhere in
    that window); the expressions, not the schedule, are what the test checks.
    """
    directory.mkdir(parents=True, exist_ok=True)
    copies = []
    for path in rule_files:
        content = yaml.safe_load(path.read_text())
        for group in content["groups"]:
            group["interval"] = "1s"
        copy = directory / path.name
        copy.write_text(yaml.safe_dump(content, sort_keys=False))
        copies.append(copy)
    return copies


@contextmanager
def running_pushgateway(base_dir: Path) -> Iterator[str]:
    """A Pushgateway alone on a free port; yields its URL."""
    ensure_debian_packages(["prometheus-pushgateway"], [PUSHGATEWAY])
    base_dir.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{free_tcp_port()}"
    log_file = base_dir / "pushgateway.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            # In memory only: Debian's build persists to one file shared by every Pushgateway on the machine.
            [PUSHGATEWAY, f"--web.listen-address={url.removeprefix('http://')}", "--persistence.file="],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: _answers(f"{url}/-/ready"), 15, "Pushgateway", lambda: tail_of(log_file))
        yield url
    finally:
        _stop(process)


@contextmanager
def running_prometheus(base_dir: Path, rule_files: list[Path]) -> Iterator[PrometheusServers]:
    ensure_prometheus()
    base_dir.mkdir(parents=True, exist_ok=True)
    prometheus_port = free_tcp_port()
    with running_pushgateway(base_dir) as pushgateway_url:
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(path) for path in _every_second(rule_files, base_dir / "rules")],
            "scrape_configs": [
                {
                    "job_name": "prometheus-pushgateway",
                    "honor_labels": True,
                    "static_configs": [{"targets": [pushgateway_url.removeprefix("http://")]}],
                }
            ],
        }
        config_file = base_dir / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config))
        logs = {"pushgateway": base_dir / "pushgateway.log", "prometheus": base_dir / "prometheus.log"}
        servers = PrometheusServers(pushgateway_url, f"http://127.0.0.1:{prometheus_port}", logs)
        with logs["prometheus"].open("wb") as log:
            process = subprocess.Popen(
                [
                    PROMETHEUS,
                    f"--config.file={config_file}",
                    f"--storage.tsdb.path={base_dir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{prometheus_port}",
                    "--web.enable-lifecycle",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until(lambda: _answers(f"{servers.prometheus_url}/-/ready"), 15, "Prometheus", servers.diagnostics)
            yield servers
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
