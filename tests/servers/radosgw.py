"""A real S3 server for integration tests: single-node Ceph (one monitor, one memstore OSD) and radosgw.

    with running_radosgw(tmp_dir) as s3:
        s3.create_bucket("lake")
        with s3.client_env_applied():
            fs = s3.filesystem()  # pyarrow.fs.S3FileSystem

Everything lives under ``base_dir`` (config, monitor store, OSD metadata, logs, admin sockets); object data lives in
the OSD's memory (memstore), so it is gone when the server stops. Authentication inside the cluster is off
(``auth ... required = none``); S3 requests are still signed with the user's keys, as on any S3 server.

Startup takes about 1.5 s: the monitor's Paxos proposal interval is lowered from 1 s to 50 ms, otherwise each of
the ~20 map changes radosgw makes while creating its pools waits a full second (~12 s in all).
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import free_tcp_port, tail_of, wait_until
from .debian import ensure_debian_packages

if TYPE_CHECKING:
    from pyarrow.fs import S3FileSystem

log = logging.getLogger(__name__)

DEBIAN_PACKAGES = ["ceph-mon", "ceph-osd", "radosgw", "ceph-common"]
BINARIES = ["ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "ceph", "monmaptool"]

# pyarrow's AWS SDK sends aws-chunked uploads with trailing checksums unless told to do so only when required;
# radosgw answers those with HTTP 411. Set these in the environment of any S3 client built on the AWS C++ SDK
# (pyarrow.fs.S3FileSystem, and so pyiceberg's PyArrowFileIO) before it is created.
S3_CLIENT_ENV = {
    "AWS_REQUEST_CHECKSUM_CALCULATION": "WHEN_REQUIRED",
    "AWS_RESPONSE_CHECKSUM_VALIDATION": "WHEN_REQUIRED",
    "AWS_EC2_METADATA_DISABLED": "true",  # never wait on an instance-metadata lookup for credentials
}

RGW_NAME = "client.rgw.civiclake"
MON_ID = "a"
OSD_ID = 0
# memstore keeps objects in RAM; this is the capacity it reports (the OSD refuses writes at 95 % of it).
MEMSTORE_BYTES = 4 * 1024**3
_MAX_SOCKET_PATH_LENGTH = 100  # sun_path holds 107 bytes
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str  # http://127.0.0.1:PORT
    access_key_id: str
    secret_access_key: str
    region: str
    host: str
    port: int
    base_dir: Path
    # Environment variables an S3 client built on the AWS C++ SDK (pyarrow, pyiceberg) needs to talk to radosgw:
    # without them every upload fails with HTTP 411. Set them before creating the client.
    client_env: dict[str, str] = field(default_factory=lambda: dict(S3_CLIENT_ENV))

    @contextmanager
    def client_env_applied(self) -> Iterator[None]:
        """Set ``client_env`` in os.environ for the duration of the block (not thread-safe: os.environ is global)."""
        saved = {key: os.environ.get(key) for key in self.client_env}
        os.environ.update(self.client_env)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def filesystem(self, **options: Any) -> S3FileSystem:
        """A pyarrow S3FileSystem for this server (set ``client_env`` first, see ``client_env_applied``)."""
        from pyarrow.fs import S3FileSystem

        return S3FileSystem(
            endpoint_override=f"{self.host}:{self.port}",
            scheme="http",
            access_key=self.access_key_id,
            secret_key=self.secret_access_key,
            region=self.region,
            **options,
        )

    def pyiceberg_properties(self) -> dict[str, str]:
        """The FileIO properties of a pyiceberg catalog whose warehouse is on this server."""
        return {
            "s3.endpoint": self.endpoint_url,
            "s3.access-key-id": self.access_key_id,
            "s3.secret-access-key": self.secret_access_key,
            "s3.region": self.region,
        }

    def create_bucket(self, name: str) -> None:
        """Create bucket ``name`` (pyarrow's CreateBucket, signed with this server's keys)."""
        with self.client_env_applied():
            self.filesystem(allow_bucket_creation=True).create_dir(name)


@dataclass
class _Layout:
    root: Path
    conf: Path
    log_dir: Path
    run_dir: Path
    mon_dir: Path
    osd_dir: Path
    rgw_dir: Path
    admin_sockets: bool

    @classmethod
    def under(cls, base_dir: Path) -> _Layout:
        root = base_dir / "ceph"
        run_dir = root / "run"
        longest_socket = run_dir / f"ceph-{RGW_NAME}.asok"
        layout = cls(
            root=root,
            conf=root / "ceph.conf",
            log_dir=root / "log",
            run_dir=run_dir,
            mon_dir=root / "mon" / f"ceph-{MON_ID}",
            osd_dir=root / "osd" / f"ceph-{OSD_ID}",
            rgw_dir=root / "rgw",
            admin_sockets=len(str(longest_socket)) <= _MAX_SOCKET_PATH_LENGTH,
        )
        for directory in (layout.log_dir, layout.run_dir, layout.mon_dir.parent, layout.osd_dir, layout.rgw_dir):
            directory.mkdir(parents=True, exist_ok=True)
        return layout

    def log_tails(self, lines: int = 25) -> str:
        parts = []
        for path in sorted(self.log_dir.glob("*")):
            if path.stat().st_size:
                parts.append(f"--- {path} ---\n{tail_of(path, lines)}")
        return "\n".join(parts) or f"(no logs in {self.log_dir})"


def _ceph_conf(layout: _Layout, fsid: str, mon_port: int, rgw_port: int) -> str:
    admin_socket = f"{layout.run_dir}/$cluster-$name.asok" if layout.admin_sockets else ""
    return f"""\
[global]
fsid = {fsid}
mon host = [v2:127.0.0.1:{mon_port}]
public addr = 127.0.0.1
ms bind ipv4 = true
ms bind ipv6 = false
# No cephx inside the cluster: nothing to generate or distribute. With auth "none" there is no session key, so
# the wire must use "crc" mode: radosgw asks for "secure" to the monitor by default and then fails with EACCES.
auth cluster required = none
auth service required = none
auth client required = none
ms cluster mode = crc
ms service mode = crc
ms client mode = crc
ms mon cluster mode = crc
ms mon service mode = crc
ms mon client mode = crc
run dir = {layout.run_dir}
pid file = {layout.run_dir}/$cluster-$name.pid
log file = {layout.log_dir}/$cluster-$name.log
keyring = {layout.root}/keyring
admin socket = {admin_socket}
mon data = {layout.root}/mon/$cluster-$id
osd data = {layout.root}/osd/$cluster-$id
osd objectstore = memstore
memstore device bytes = {MEMSTORE_BYTES}
# One OSD: one replica, CRUSH places copies across OSDs rather than hosts, few placement groups, no autoscaler.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
mon data avail warn = 1
mon data avail crit = 1
# Each map change waits for the next Paxos proposal: 1 s by default, which made startup take ~12 s.
paxos propose interval = 0.05
paxos min wait = 0.01

[client]
# The ceph and radosgw-admin commands would all share one socket name; they do not need one.
admin socket =

[{RGW_NAME}]
admin socket = {admin_socket}
rgw frontends = beast endpoint=127.0.0.1:{rgw_port}
rgw data = {layout.rgw_dir}
rgw thread pool size = 64
rgw enable usage log = false
rgw enable ops log = false
"""


def _die_with_parent() -> None:
    # If the test process is killed, the daemons die too instead of lingering with ports and memory.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class _Cluster:
    """The processes of one single-node cluster, and the commands to drive it."""

    def __init__(self, layout: _Layout) -> None:
        self.layout = layout
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("CEPH_")}
        self.env["CEPH_CONF"] = str(layout.conf)

    def command(self, args: list[str], timeout: float = 30) -> str:
        try:
            result = subprocess.run(
                args, env=self.env, cwd=self.layout.root, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(
                f"`{' '.join(args)}` did not finish in {timeout:.0f} s\n{self.layout.log_tails()}"
            ) from exc
        if result.returncode != 0:
            raise RuntimeError(
                f"`{' '.join(args)}` failed (exit code {result.returncode}): {result.stderr.strip()}\n"
                f"{self.layout.log_tails()}"
            )
        return result.stdout

    def ceph(self, *args: str, timeout: float = 30) -> str:
        return self.command(
            ["ceph", "-c", str(self.layout.conf), "--connect-timeout", str(int(timeout)), *args], timeout=timeout
        )

    def start(self, name: str, args: list[str]) -> None:
        stderr = (self.layout.log_dir / f"{name}.stderr").open("wb")
        try:
            self.processes[name] = subprocess.Popen(
                args,
                env=self.env,
                cwd=self.layout.root,
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        finally:
            stderr.close()

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            code = process.poll()
            if code is not None:
                raise RuntimeError(f"{name} exited with code {code}\n{self.layout.log_tails()}")

    def kill_all(self) -> None:
        # SIGKILL straight away: a clean stop would make memstore write its objects to disk, for nothing.
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                process.kill()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                log.warning("process %d did not die after SIGKILL", process.pid)


def _http_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _osd_is_up(cluster: _Cluster) -> bool:
    cluster.check_alive()
    return '"num_up_osds":1' in cluster.ceph("osd", "stat", "--format", "json").replace(" ", "")


@contextmanager
def running_radosgw(
    base_dir: Path,
    *,
    access_key_id: str = "civiclake-test-access-key",
    secret_access_key: str = "civiclake-test-secret-key",
    region: str = "us-east-1",
    timeout: float = 60,
) -> Iterator[S3Server]:
    """Run a single-node Ceph cluster with radosgw under ``base_dir`` until the block exits, then kill it and
    delete ``base_dir/ceph``.

    Installs the Debian packages ceph-mon, ceph-osd, radosgw and ceph-common if they are missing. The S3 user has
    the given keys. ``region`` must stay us-east-1 for pyarrow's CreateBucket: any other region is sent as a
    LocationConstraint, which radosgw refuses unless it names its zonegroup. Raises TimeoutError (with the tails of
    the logs) if a step takes longer than ``timeout`` seconds.
    """
    ensure_debian_packages(DEBIAN_PACKAGES, BINARIES)
    started = time.monotonic()
    layout = _Layout.under(Path(base_dir))
    if not layout.admin_sockets:
        log.info("%s is too long for Unix socket paths: the Ceph daemons run without admin sockets", base_dir)
    mon_port, rgw_port = free_tcp_port(), free_tcp_port()
    while rgw_port == mon_port:
        rgw_port = free_tcp_port()
    fsid = str(uuid.uuid4())
    layout.conf.write_text(_ceph_conf(layout, fsid, mon_port, rgw_port))
    cluster = _Cluster(layout)
    conf = ["-c", str(layout.conf)]

    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, layout.root, ignore_errors=True)
        cleanup.callback(cluster.kill_all)

        # Monitor: a monmap naming it, its store, then the daemon (-f: foreground, logs to the log file).
        monmap = layout.root / "monmap"
        cluster.command(
            ["monmaptool", "--create", "--fsid", fsid, "--addv", MON_ID, f"[v2:127.0.0.1:{mon_port}]", str(monmap)]
        )
        cluster.command(["ceph-mon", *conf, "--mkfs", "-i", MON_ID, "--monmap", str(monmap)])
        cluster.start("ceph-mon", ["ceph-mon", *conf, "-f", "-i", MON_ID])

        # OSD: register it with the monitor (this also waits for the monitor), make its store, start it.
        osd_uuid = str(uuid.uuid4())
        osd_id = cluster.ceph("osd", "new", osd_uuid, timeout=timeout).strip()
        if osd_id != str(OSD_ID):
            raise RuntimeError(f"expected the new OSD to get id {OSD_ID}, got {osd_id!r}")
        cluster.command(["ceph-osd", *conf, "-i", str(OSD_ID), "--mkfs", "--osd-uuid", osd_uuid])
        cluster.start("ceph-osd", ["ceph-osd", *conf, "-f", "-i", str(OSD_ID)])
        wait_until(lambda: _osd_is_up(cluster), timeout, "Ceph OSD", layout.log_tails, interval=0.2)

        # radosgw creates its pools and default zone on start, then answers anonymous GET / with 200.
        cluster.start("radosgw", ["radosgw", *conf, "-f", "-n", RGW_NAME])
        endpoint_url = f"http://127.0.0.1:{rgw_port}"

        def rgw_ready() -> bool:
            cluster.check_alive()
            return _http_answers(endpoint_url + "/")

        wait_until(rgw_ready, timeout, f"radosgw on {endpoint_url}", layout.log_tails, interval=0.1)

        cluster.command(
            [
                "radosgw-admin",
                *conf,
                "user",
                "create",
                "--uid",
                "civiclake",
                "--display-name",
                "civiclake tests",
                "--access-key",
                access_key_id,
                "--secret-key",
                secret_access_key,
            ],
            timeout=timeout,
        )
        log.info("radosgw ready on %s in %.1f s", endpoint_url, time.monotonic() - started)
        yield S3Server(
            endpoint_url=endpoint_url,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            region=region,
            host="127.0.0.1",
            port=rgw_port,
            base_dir=layout.root,
        )


__all__ = ["S3_CLIENT_ENV", "S3Server", "running_radosgw"]
