"""The cluster profile's servers on one machine: PostgreSQL, MinIO and Trino, wired as the Helm chart wires them.

    with running_cluster(base_dir) as cluster:      # tests, `make demo-cluster`
        os.environ.update(cluster.environment)      # CIVICLAKE_PROFILE=cluster, S3, catalog, TRINO_*

    civiclake dev up / civiclake dev down           # the same, detached, state in $CIVICLAKE_HOME/dev

What comes from the chart (charts/civiclake, rendered with helm-python-sdk, dependencies off, ``external.*``
pointing here):
- the versions of Trino and MinIO (values ``trino.image.tag``, ``minio.image.tag``);
- the PostgreSQL role and database of the Iceberg catalog (``catalog.user``, ``catalog.database``);
- the bucket, catalog tables and namespaces, made by running the chart's own bootstrap script
  (files/bootstrap.py) with the environment its Job's pod gets;
- Trino's Iceberg catalog file (``trino.catalogs.iceberg``) and the environment Trino's pods get
  (``trino.envFrom`` and ``trino.env``, resolved against the rendered ConfigMaps and the Secrets);
- Trino's access control and users' groups: the coordinator's files (``trino.accessControl``,
  ``trino.coordinator.additionalConfigFiles`` and the ConfigMaps of ``trino.coordinator.configMounts``);
- the environment printed for the user: the ingest pod template's, plus the dbt pod template's ``TRINO_*``.

What differs from a cluster, on purpose: PostgreSQL is the machine's (15, trust authentication on 127.0.0.1) where
the chart deploys Bitnami's; Trino is one node with a 2 GB heap; the Secrets' passwords are generated per start.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from civiclake.errors import ConfigurationError
from civiclake.servers import chart
from civiclake.servers.minio import MinioServer, install_minio, start_minio, stop_minio
from civiclake.servers.podenv import container_environment
from civiclake.servers.postgres import PostgresServer, start_postgres, stop_postgres
from civiclake.servers.process import (
    ServerUnavailableError,
    free_tcp_port,
    http_status,
    pid_alive,
    start_process,
    stop_pid,
    stop_process,
    tail_of,
    wait_until,
)
from civiclake.servers.trino import TrinoServer, install_trino, start_trino, stop_trino

# Settings of a pod that make no sense on a laptop: its home is a pod volume, its registry a mounted ConfigMap,
# its Pushgateway a cluster Service; ICEBERG_CATALOG_PASSWORD only feeds CIVICLAKE__CATALOG__URI.
_POD_ONLY = (
    "CIVICLAKE_HOME",
    "CIVICLAKE__REGISTRY__PATH",
    "CIVICLAKE__METRICS__PUSHGATEWAY_URL",
    "ICEBERG_CATALOG_PASSWORD",
)
_DBT_KEYS = ("TRINO_HOST", "TRINO_PORT", "TRINO_CATALOG", "TRINO_USER", "DBT_TARGET")
STATE_FILE = "stack.json"

Progress = Callable[[str], None]


@dataclass
class ClusterServers:
    postgres: PostgresServer
    minio: MinioServer
    trino: TrinoServer
    environment: dict[str, str]
    secrets: dict[str, dict[str, str]] = field(repr=False)
    objects: list[dict[str, Any]] = field(repr=False)
    # `civiclake audit receive`, which Trino's HTTP event listener posts to, when the chart configures one.
    audit_receiver: AuditReceiverProcess | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "postgresql": {"port": self.postgres.port, "data_dir": str(self.postgres.data_dir)},
            "minio": {"endpoint": self.minio.endpoint_url, "data_dir": str(self.minio.data_dir)},
            "trino": {"url": self.trino.url, "version": self.trino.install.version},
        }


@dataclass(frozen=True)
class AuditReceiverProcess:
    url: str
    pid: int
    log_file: Path
    process: subprocess.Popen[bytes] = field(repr=False)


def start_audit_receiver(
    run_dir: Path, environment: Mapping[str, str], *, detached: bool = False
) -> AuditReceiverProcess:
    """``civiclake audit receive`` on 127.0.0.1 with the pipeline's settings (it writes into the lake)."""
    port = free_tcp_port()
    url = f"http://127.0.0.1:{port}/"
    log_file = run_dir / "receiver.log"
    command = [sys.executable, "-c", "from civiclake.cli.main import main; main()", "audit", "receive"]
    command += ["--address", "127.0.0.1", "--port", str(port)]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CIVICLAKE")}, **environment}
    process = start_process(command, log_file=log_file, env=env, detached=detached)

    def ready() -> bool:
        if process.poll() is not None:
            raise ServerUnavailableError(
                f"the audit receiver exited with code {process.returncode}:\n{tail_of(log_file)}"
            )
        return http_status(url) == 200

    try:
        wait_until(ready, 60.0, "the audit receiver", lambda: tail_of(log_file), 0.2)
    except BaseException:
        stop_process(process)
        raise
    return AuditReceiverProcess(url, process.pid, log_file, process)


def listener_posting_to(properties: str, url: str) -> str:
    """event-listener.properties with the HTTP listener posting to ``url`` instead of the cluster's Service."""
    key = "http-event-listener.connect-ingest-uri="
    return "".join(f"{key}{url}\n" if line.startswith(key) else line for line in properties.splitlines(keepends=True))


def generated_secrets() -> dict[str, dict[str, str]]:
    """The Secrets the chart expects (their names and keys from the values), with fresh random passwords."""
    values = chart.chart_values()
    catalog, s3, privacy = values["catalog"], values["s3"], values["privacy"]
    return {
        catalog["existingSecret"]: {
            catalog["passwordKey"]: secrets.token_urlsafe(18),
            "postgres-password": secrets.token_urlsafe(18),
            values["airflowDatabase"]["passwordKey"]: secrets.token_urlsafe(18),
        },
        s3["existingSecret"]: {
            s3["accessKeyIdKey"]: "civiclake-dev",
            s3["secretAccessKeyKey"]: secrets.token_urlsafe(24),
        },
        privacy["existingSecret"]: {privacy["keyKey"]: secrets.token_hex(32)},
    }


def _config_maps(objects: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {
        obj["metadata"]["name"]: {k: str(v) for k, v in (obj.get("data") or {}).items()}
        for obj in objects
        if obj.get("kind") == "ConfigMap"
    }


def _container(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj["spec"]["template"]["spec"] if obj["kind"] == "Job" else obj["spec"]
    return dict(spec["containers"][0])


def _job(objects: list[dict[str, Any]], suffix: str) -> dict[str, Any]:
    for obj in objects:
        if obj.get("kind") == "Job" and obj["metadata"]["name"].endswith(suffix):
            return obj
    raise ConfigurationError(f"the chart rendered no Job named *{suffix}")


def _pod_template(objects: list[dict[str, Any]], task: str) -> dict[str, Any]:
    import yaml

    data = _config_maps(objects)[f"{chart.RELEASE}-pipeline-pod-templates"]
    return dict(yaml.safe_load(data[f"{task}.yaml"]))


def run_bootstrap(objects: list[dict[str, Any]], secret_data: Mapping[str, Mapping[str, str]]) -> str:
    """The chart's bootstrap Job, run here: its script, its pod's environment."""
    env = container_environment(_container(_job(objects, "-bootstrap")), _config_maps(objects), secret_data)
    script = chart.chart_dir() / "files" / "bootstrap.py"
    result = subprocess.run(
        [sys.executable, str(script)],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("CIVICLAKE")}, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if result.returncode != 0:
        raise ServerUnavailableError(
            f"the chart's bootstrap script failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
        )
    return result.stdout


def start_cluster(base_dir: Path, *, detached: bool = False, progress: Progress = lambda _: None) -> ClusterServers:
    """Start the three servers under ``base_dir``; on failure, stop what was started and raise."""
    versions = chart.chart_versions()
    values = chart.chart_values()
    secret_data = generated_secrets()
    with ExitStack() as undo:
        progress(f"MinIO {versions.minio}: building or taking it from the cache")
        minio_binary = install_minio(versions.minio)
        progress(f"Trino {versions.trino}: fetching or taking it from the cache")
        trino_install = install_trino(versions.trino)

        postgres = start_postgres(base_dir)
        undo.callback(stop_postgres, postgres)
        catalog = values["catalog"]
        postgres.create_role(catalog["user"], secret_data[catalog["existingSecret"]][catalog["passwordKey"]])
        postgres.create_database(catalog["database"], owner=catalog["user"])
        progress(f"PostgreSQL on port {postgres.port}: catalog database {catalog['database']}")

        s3_secret = secret_data[values["s3"]["existingSecret"]]
        minio = start_minio(
            minio_binary,
            base_dir / "minio" / "data",
            access_key_id=s3_secret[values["s3"]["accessKeyIdKey"]],
            secret_access_key=s3_secret[values["s3"]["secretAccessKeyKey"]],
            region=values["lake"]["region"],
            detached=detached,
        )
        undo.callback(stop_minio, minio)
        progress(f"MinIO on {minio.endpoint_url}")

        trino_port = free_tcp_port()
        trino_url = f"http://127.0.0.1:{trino_port}"

        def render(trino_enabled: bool) -> list[dict[str, Any]]:
            return chart.render_for_servers(
                s3_endpoint=minio.endpoint_url,
                postgresql_host="127.0.0.1",
                postgresql_port=postgres.port,
                trino_url=trino_url,
                trino_enabled=trino_enabled,
            )

        # Trino on: its catalog ConfigMap. Trino off, external.trinoUrl here: the pods' TRINO_* point at it.
        with_trino, objects = render(trino_enabled=True), render(trino_enabled=False)

        progress("bootstrap: the chart's Job script creates the bucket, catalog tables and namespaces")
        run_bootstrap(objects, secret_data)

        maps = _config_maps(objects)
        ingest = container_environment(_container(_pod_template(objects, "ingest")), maps, secret_data)
        dbt = container_environment(_container(_pod_template(objects, "dbt")), maps, secret_data)
        environment = {k: v for k, v in ingest.items() if k not in _POD_ONLY}
        environment.update({k: dbt[k] for k in _DBT_KEYS if k in dbt})

        coordinator_files = chart.trino_coordinator_files(with_trino)
        receiver = None
        if "event-listener.properties" in coordinator_files:
            receiver = start_audit_receiver(base_dir / "audit", environment, detached=detached)
            undo.callback(stop_process, receiver.process)
            coordinator_files["event-listener.properties"] = listener_posting_to(
                coordinator_files["event-listener.properties"], receiver.url
            )
            progress(f"audit receiver on {receiver.url}")

        trino_values = values["trino"]
        trino_env = container_environment(
            {"envFrom": trino_values.get("envFrom"), "env": trino_values.get("env")},
            _config_maps(with_trino),
            secret_data,
        )
        trino = start_trino(
            trino_install,
            base_dir / "trino",
            {"iceberg": chart.trino_iceberg_properties()},
            trino_env,
            port=trino_port,
            detached=detached,
            # Access control, users' groups, the event listener: the coordinator's files, as the chart mounts them.
            config_files=coordinator_files,
            config_dir=chart.TRINO_CONFIG_DIR,
        )
        undo.callback(stop_trino, trino)
        progress(f"Trino on {trino.url}")

        undo.pop_all()
        return ClusterServers(postgres, minio, trino, environment, secret_data, objects, receiver)
    raise AssertionError("unreachable")


def stop_cluster(servers: ClusterServers) -> None:
    stop_trino(servers.trino)
    if servers.audit_receiver is not None:
        stop_process(servers.audit_receiver.process)
    stop_minio(servers.minio)
    stop_postgres(servers.postgres)


@contextmanager
def running_cluster(base_dir: Path, progress: Progress = lambda _: None) -> Iterator[ClusterServers]:
    servers = start_cluster(base_dir, progress=progress)
    try:
        yield servers
    finally:
        stop_cluster(servers)


# --- civiclake dev up / down ------------------------------------------------------------------------------------


def dev_state_dir(home: Path) -> Path:
    return home.resolve() / "dev"


def read_state(home: Path) -> dict[str, Any] | None:
    path = dev_state_dir(home) / STATE_FILE
    if not path.is_file():
        return None
    state = json.loads(path.read_text())
    return state if isinstance(state, dict) else None


def dev_up(home: Path, progress: Progress) -> tuple[dict[str, Any], bool]:
    """Start the servers detached, or find them already running; returns (state, started_now)."""
    state = read_state(home)
    if state is not None and all(pid_alive(pid) for pid in state["pids"].values()):
        return state, False
    if state is not None:
        progress("a previous `civiclake dev up` left servers that are no longer all running: stopping them")
        dev_down(home)
    base_dir = dev_state_dir(home)
    base_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    servers = start_cluster(base_dir, detached=True, progress=progress)
    state = {
        "environment": servers.environment,
        "servers": servers.describe(),
        "pids": {
            "postgresql": int(servers.postgres.data_dir.joinpath("postmaster.pid").read_text().split()[0]),
            "minio": servers.minio.pid,
            "trino": servers.trino.pid,
            **({"audit_receiver": servers.audit_receiver.pid} if servers.audit_receiver else {}),
        },
        "postgres": {"data_dir": str(servers.postgres.data_dir), "bin_dir": str(servers.postgres.bin_dir)},
        "seconds": round(time.monotonic() - started, 1),
    }
    state_file = base_dir / STATE_FILE
    state_file.touch(mode=0o600)
    state_file.write_text(json.dumps(state, indent=2))
    return state, True


def dev_down(home: Path) -> bool:
    """Stop what `dev up` started and delete its data; False when nothing was running."""
    import shutil

    from civiclake.servers.postgres import stop_postgres_data_dir

    state = read_state(home)
    if state is None:
        return False
    stop_pid(state["pids"]["trino"], grace_seconds=15)
    if "audit_receiver" in state["pids"]:
        stop_pid(state["pids"]["audit_receiver"])
    stop_pid(state["pids"]["minio"])
    stop_postgres_data_dir(Path(state["postgres"]["bin_dir"]), Path(state["postgres"]["data_dir"]))
    shutil.rmtree(dev_state_dir(home), ignore_errors=True)
    return True
