"""A single-drive MinIO on 127.0.0.1, the release the chart deploys, built from source once.

MinIO's community edition is distributed as source; its documented build is ``go install``. The release tag the
chart's image uses (``minio.image.tag``, e.g. ``RELEASE.2025-01-20T14-49-07Z``) is a Go module version the Go
module proxy resolves, so the binary is built from exactly the code the cluster runs:

    <cache>/minio/<release>/minio          <cache>/go/{mod,build}   (reused by every later build)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from civiclake.servers.cache import cache_root, cached_entry
from civiclake.servers.process import (
    ServerUnavailableError,
    free_tcp_port,
    http_status,
    start_process,
    stop_pid,
    stop_process,
    tail_of,
    wait_until,
)

MODULE = "github.com/minio/minio"
# The Go module proxy does not serve MinIO's release tags (they are not semantic versions): it serves each
# release commit as a pseudo-version, v0.0.0-<commit time>-<commit hash>. Add a line when the chart moves.
MODULE_VERSIONS = {
    "RELEASE.2025-01-20T14-49-07Z": "v0.0.0-20250120144907-827004cd6d3d",
}
START_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class MinioServer:
    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    region: str
    pid: int
    data_dir: Path
    log_file: Path
    # The process object when this process started it: stopping it also reaps it.
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    def filesystem(self, **options: Any) -> Any:
        from pyarrow import fs

        endpoint = urlparse(self.endpoint_url)
        return fs.S3FileSystem(
            access_key=self.access_key_id,
            secret_key=self.secret_access_key,
            endpoint_override=endpoint.netloc,
            scheme=endpoint.scheme,
            region=self.region,
            **options,
        )

    def create_bucket(self, name: str) -> None:
        self.filesystem(allow_bucket_creation=True).create_dir(name)


def go_environment(cache: Path) -> dict[str, str]:
    """Go's caches inside civiclake's cache, and the machine's own Go toolchain (no toolchain download)."""
    go = cache / "go"
    return {
        **os.environ,
        "GOPATH": str(go / "path"),
        "GOMODCACHE": str(go / "mod"),
        "GOCACHE": str(go / "build"),
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
    }


def go_install(module: str, version: str, binary: str, destination: Path, cache: Path) -> Path:
    """``go install module@version`` into ``destination``; returns the binary's path."""
    if shutil.which("go") is None:
        raise ServerUnavailableError(f"Go is needed to build {module} ({binary}): install Go 1.23 or newer")
    env = go_environment(cache) | {"GOBIN": str(destination)}
    result = subprocess.run(
        ["go", "install", "-trimpath", f"{module}@{version}"], capture_output=True, text=True, env=env, check=False
    )
    if result.returncode != 0:
        raise ServerUnavailableError(
            f"`go install {module}@{version}` failed (exit {result.returncode}):\n{result.stderr[-3000:]}"
        )
    return destination / binary


def install_minio(release: str, *, cache: Path | None = None) -> Path:
    """The MinIO server binary of ``release``, from the cache, built the first time (about two minutes)."""
    if release not in MODULE_VERSIONS:
        raise ServerUnavailableError(
            f"MinIO {release} has no known Go module version: add it to MODULE_VERSIONS in {__name__} "
            f"(`go list -m {MODULE}@<release commit>` prints it)"
        )
    root = cache or cache_root()
    module_version = MODULE_VERSIONS[release]

    def build(scratch: Path) -> None:
        go_install(MODULE, module_version, "minio", scratch, root)

    directory = cached_entry("minio", release, build, root=root)
    return directory / "minio"


def start_minio(
    binary: Path,
    data_dir: Path,
    *,
    access_key_id: str,
    secret_access_key: str,
    region: str = "us-east-1",
    detached: bool = False,
) -> MinioServer:
    data_dir.mkdir(parents=True, exist_ok=True)
    port, console_port = free_tcp_port(), free_tcp_port()
    log_file = data_dir.parent / "minio.log"
    env = {
        **os.environ,
        "MINIO_ROOT_USER": access_key_id,
        "MINIO_ROOT_PASSWORD": secret_access_key,
        "MINIO_REGION": region,
        # No update checks, no phone-home: the launcher's servers talk to loopback only.
        "MINIO_UPDATE": "off",
        "MINIO_CALLHOME_ENABLE": "off",
        "MINIO_BROWSER": "off",
        # The chart sets it too: Prometheus scrapes /minio/v2/metrics/cluster without a token.
        "MINIO_PROMETHEUS_AUTH_TYPE": "public",
    }
    command = [
        str(binary),
        "server",
        str(data_dir),
        "--address",
        f"127.0.0.1:{port}",
        "--console-address",
        f"127.0.0.1:{console_port}",
        "--quiet",
    ]
    started = time.monotonic()
    process = start_process(command, log_file=log_file, env=env, detached=detached)
    server = MinioServer(
        f"http://127.0.0.1:{port}", access_key_id, secret_access_key, region, process.pid, data_dir, log_file, process
    )

    def ready() -> bool:
        if process.poll() is not None:
            raise ServerUnavailableError(f"MinIO exited with code {process.returncode}:\n{tail_of(log_file)}")
        return http_status(f"{server.endpoint_url}/minio/health/ready") == 200

    try:
        wait_until(ready, START_TIMEOUT_SECONDS, "MinIO", lambda: tail_of(log_file))
    except BaseException:
        stop_process(process)
        raise
    (data_dir.parent / "minio.ready").write_text(f"ready in {time.monotonic() - started:.2f} s\n")
    return server


def stop_minio(server: MinioServer) -> None:
    if server.process is not None:
        stop_process(server.process)
    else:
        stop_pid(server.pid)


@contextmanager
def running_minio(binary: Path, data_dir: Path, **options: Any) -> Iterator[MinioServer]:
    server = start_minio(binary, data_dir, **options)
    try:
        yield server
    finally:
        stop_minio(server)
