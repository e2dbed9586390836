"""civiclake's container images (images/*/Dockerfile), built and run with podman on a machine without a registry.

    python -m civiclake.servers.images [ingest dbt airflow]     # `make images`: builds, prints tags and times

No container registry may be reachable, so the Dockerfiles' base (build argument ``PYTHON_IMAGE``) is made here:

1. a Debian root file system made by ``debootstrap --variant=minbase`` from the machine's Debian mirror, kept as a
   tarball in the versioned cache (``<cache>/debian-rootfs/<suite>-r<recipe>/rootfs.tar``) and imported as
   ``localhost/civiclake/debian:<suite>-r<recipe>``;
2. a Python base on it: Debian's ``python3`` and ``python3-venv`` and ``python-is-python3`` (the Dockerfiles run
   ``python -m venv``; the venv takes its pip from python3-venv's bundled wheel, so the base has no pip and neither
   has a final image), the machine's extra CA certificates (pip reaches PyPI through a proxy the host trusts),
   tagged ``localhost/civiclake/python:<suite>-<digest>`` where the digest covers its recipe and certificates;
3. the images, from their Dockerfiles as they are: ``podman build --format docker --build-arg PYTHON_IMAGE=...``,
   tagged with the chart's repositories and civiclake's version (``ghcr.io/civiclake/ingest:0.1.0``).

A base whose tag exists is not made again, and podman's layer cache makes a rebuild of unchanged images take
seconds. podman runs with runc and cgroupfs (crun refuses the hybrid cgroups of these machines) and ulimits within
the hard limits, set in a ``containers.conf`` of the cache that every podman call here is pointed at
(``CONTAINERS_CONF``). Builds and runs use the host's network: no container network needs setting up.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from civiclake.servers.cache import cached_entry
from civiclake.servers.process import ServerUnavailableError

SUITE = "bookworm"
# Bump when the debootstrap step changes: the rootfs tarball and the Debian image get a new tag.
ROOTFS_RECIPE = 2
DEFAULT_MIRROR = "http://deb.debian.org/debian"
EXTRA_CA_DIR = Path("/usr/local/share/ca-certificates")
NAMES = ("ingest", "dbt", "airflow")
REPOSITORY = "ghcr.io/civiclake"
INSTALL_HINT = "run scripts/install-system-deps.sh (make system-deps)"
# The recipe of the Python base. The tag carries a digest of this text and of the certificates it copies.
PYTHON_CONTAINERFILE = """\
FROM {debian}
COPY ca-certificates/ /usr/local/share/ca-certificates/host/
RUN printf 'deb {mirror} {suite} main\\ndeb {mirror} {suite}-updates main\\ndeb {security} {suite}-security main\\n' \\
      > /etc/apt/sources.list \\
 && apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
      python3 python3-venv python-is-python3 ca-certificates \\
 && update-ca-certificates \\
 && apt-get clean \\
 && rm -rf /var/lib/apt/lists/*
ENV LANG=C.UTF-8 PIP_CERT=/etc/ssl/certs/ca-certificates.crt
"""
BUILD_TIMEOUT_SECONDS = 3600


def repository_root() -> Path:
    """The checkout the images are built from (their build context): where pyproject.toml and images/ are."""
    root = Path(__file__).resolve().parents[3]
    if not (root / "images").is_dir() or not (root / "pyproject.toml").is_file():
        raise ServerUnavailableError(f"{root}: not a civiclake checkout (no images/ or pyproject.toml)")
    return root


def civiclake_version() -> str:
    return importlib.metadata.version("civiclake")


def image_tag(name: str) -> str:
    """The tag an image gets here: the chart's repository for it, at civiclake's version."""
    return f"{REPOSITORY}/{name}:{civiclake_version()}"


# --- podman ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Podman:
    """podman pointed at civiclake's containers.conf; every call has a timeout and says what failed."""

    containers_conf: Path
    executable: str = "podman"

    @property
    def environment(self) -> dict[str, str]:
        return {**os.environ, "CONTAINERS_CONF": str(self.containers_conf)}

    def run(
        self, *arguments: str, timeout: float = 600, check: bool = True, input_file: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        command = [self.executable, *arguments]
        if input_file is not None:
            with input_file.open("rb") as stdin:
                raw = subprocess.run(
                    command, stdin=stdin, capture_output=True, env=self.environment, timeout=timeout, check=False
                )
            result = subprocess.CompletedProcess(
                command, raw.returncode, raw.stdout.decode(errors="replace"), raw.stderr.decode(errors="replace")
            )
        else:
            result = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                env=self.environment,
                timeout=timeout,
                check=False,
            )
        if check and result.returncode != 0:
            raise ServerUnavailableError(
                f"podman {' '.join(arguments[:3])} failed (exit {result.returncode}):\n"
                f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
            )
        return result

    def image_exists(self, tag: str) -> bool:
        return self.run("image", "exists", tag, check=False, timeout=60).returncode == 0

    def inspect(self, tag: str, template: str) -> str:
        return self.run("image", "inspect", "--format", template, tag, timeout=60).stdout.strip()

    def size(self, tag: str) -> int:
        """The image's size in bytes, as `podman images` shows it (all layers, uncompressed)."""
        return int(self.inspect(tag, "{{.Size}}"))


def containers_conf_text() -> str:
    # podman's default ulimits ask for more open files than a process here may have (no cap_sys_resource): stay
    # within the hard limits.
    nofile = _hard_limit(resource.RLIMIT_NOFILE, 1_048_576)
    nproc = _hard_limit(resource.RLIMIT_NPROC, 32768)
    return (
        "# Written by civiclake.servers.images: runc (crun refuses hybrid cgroups), cgroupfs (no systemd).\n"
        "[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
        "[engine]\n"
        'runtime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
    )


def _hard_limit(which: int, cap: int) -> int:
    hard = resource.getrlimit(which)[1]
    return cap if hard == resource.RLIM_INFINITY else min(hard, cap)


def podman() -> Podman:
    """podman with civiclake's containers.conf, after checking the tools are installed and this is root."""
    missing = [tool for tool in ("podman", "runc", "debootstrap") if shutil.which(tool) is None]
    if missing:
        raise ServerUnavailableError(f"{', '.join(missing)} not installed: {INSTALL_HINT}")
    if os.geteuid() != 0:
        # debootstrap and a rootful podman need root; rootless podman needs subuid ranges these machines lack.
        raise ServerUnavailableError("building the images needs root (debootstrap, rootful podman)")
    text = containers_conf_text()
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]

    def write(folder: Path) -> None:
        (folder / "containers.conf").write_text(text)

    return Podman(cached_entry("podman", digest, write) / "containers.conf")


# --- the bases -------------------------------------------------------------------------------------------------


def debian_mirror(sources: Sequence[Path] = ()) -> str:
    """The machine's Debian mirror (from its apt sources, one-line or deb822), else deb.debian.org."""
    files = list(sources) or [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        for match in re.finditer(r"^\s*(?:deb\s+(?:\[[^]]*\]\s+)?|URIs:\s*)(\S+/debian)/?\s", text, re.MULTILINE):
            return match.group(1)
    return DEFAULT_MIRROR


def extra_ca_certificates(folder: Path = EXTRA_CA_DIR) -> list[Path]:
    """The CA certificates this machine trusts beyond Debian's bundle (update-ca-certificates' *.crt)."""
    return sorted(path for path in folder.rglob("*.crt") if path.is_file()) if folder.is_dir() else []


def debian_rootfs(mirror: str | None = None) -> Path:
    """The minbase root file system as a tarball in the cache, made by debootstrap once (a few minutes)."""
    mirror = mirror or debian_mirror()

    def build(folder: Path) -> None:
        rootfs = folder / "rootfs"
        result = subprocess.run(
            ["debootstrap", "--variant=minbase", SUITE, str(rootfs), mirror],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if result.returncode != 0:
            log = rootfs / "debootstrap" / "debootstrap.log"
            detail = log.read_text(errors="replace")[-3000:] if log.is_file() else result.stderr[-3000:]
            raise ServerUnavailableError(f"debootstrap {SUITE} from {mirror} failed:\n{detail}")
        slim(rootfs)
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(folder / "rootfs.tar"), "."], check=True, timeout=600)
        shutil.rmtree(rootfs)

    return cached_entry("debian-rootfs", f"{SUITE}-r{ROOTFS_RECIPE}", build) / "rootfs.tar"


# What Debian's slim images leave out, for this and every later package: documentation (but its copyright
# notices) and manual pages. Locales stay: Python's messages and the data's encodings may need them.
DPKG_EXCLUDES = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
"""


def slim(rootfs: Path) -> None:
    """The minbase tree less what a container never reads: downloaded packages, package lists, docs, manuals."""
    (rootfs / "etc" / "dpkg" / "dpkg.cfg.d" / "civiclake-slim").write_text(DPKG_EXCLUDES)
    for folder in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for path in (rootfs / folder).glob("*"):
            if path.is_file() and path.name != "lock":
                path.unlink()
    for folder in ("usr/share/man", "usr/share/info"):
        for path in (rootfs / folder).glob("*"):
            _remove(path)
    for path in (rootfs / "usr" / "share" / "doc").glob("*/*"):
        if path.name != "copyright":
            _remove(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def debian_image(engine: Podman) -> str:
    tag = f"localhost/civiclake/debian:{SUITE}-r{ROOTFS_RECIPE}"
    if not engine.image_exists(tag):
        engine.run("import", "-", tag, input_file=debian_rootfs(), timeout=600)
    return tag


def python_containerfile(debian: str, mirror: str) -> str:
    security = f"{mirror}-security" if mirror.endswith("/debian") else mirror
    return PYTHON_CONTAINERFILE.format(debian=debian, mirror=mirror, security=security, suite=SUITE)


def python_image(engine: Podman) -> str:
    """The Python base the Dockerfiles get as PYTHON_IMAGE; its tag changes with its recipe and certificates."""
    debian = debian_image(engine)
    containerfile = python_containerfile(debian, debian_mirror())
    certificates = extra_ca_certificates()
    digest = hashlib.sha256(containerfile.encode())
    for certificate in certificates:
        digest.update(certificate.read_bytes())
    tag = f"localhost/civiclake/python:{SUITE}-{digest.hexdigest()[:12]}"
    if engine.image_exists(tag):
        return tag
    with tempfile.TemporaryDirectory(prefix="civiclake-python-base-") as context:
        folder = Path(context)
        (folder / "Containerfile").write_text(containerfile)
        (folder / "ca-certificates").mkdir()
        for index, certificate in enumerate(certificates):
            shutil.copyfile(certificate, folder / "ca-certificates" / f"{index:02d}-{certificate.name}")
        engine.run(
            "build", "--network=host", "--pull=never", "-t", tag, "-f", str(folder / "Containerfile"), str(folder),
            timeout=BUILD_TIMEOUT_SECONDS,
        )  # fmt: skip
    return tag


# --- the images ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltImage:
    name: str
    tag: str
    seconds: float
    size_bytes: int


def build_image(engine: Podman, name: str, base: str, *, root: Path | None = None) -> BuiltImage:
    """``images/<name>/Dockerfile`` built from the repository root with ``base`` as its PYTHON_IMAGE."""
    if name not in NAMES:
        raise ServerUnavailableError(f"no image named {name!r}: one of {', '.join(NAMES)}")
    root = root or repository_root()
    tag = image_tag(name)
    started = time.monotonic()
    engine.run(
        "build", "--format", "docker", "--network=host", "--pull=never",
        "--build-arg", f"PYTHON_IMAGE={base}", "--build-arg", f"VERSION={civiclake_version()}",
        "-f", str(root / "images" / name / "Dockerfile"), "-t", tag, str(root),
        timeout=BUILD_TIMEOUT_SECONDS,
    )  # fmt: skip
    return BuiltImage(name, tag, round(time.monotonic() - started, 1), engine.size(tag))


def build_images(names: Sequence[str] = NAMES, engine: Podman | None = None) -> dict[str, BuiltImage]:
    engine = engine or podman()
    base = python_image(engine)
    return {name: build_image(engine, name, base) for name in names}


# --- running ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContainerRun:
    """How a pipeline pod runs an image: read-only root, non-root, a scratch emptyDir, the host's network."""

    image: str
    command: Sequence[str] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    entrypoint: str | None = None
    scratch: Sequence[str] = ("/var/lib/civiclake", "/tmp")  # the chart's emptyDirs: CIVICLAKE_HOME and /tmp
    volumes: Mapping[Path, str] = field(default_factory=dict)  # host path -> container path, read-only
    # Host folders mounted writable (host path -> container path): an emptyDir whose content outlives the run.
    # The caller gives them to the image's user, as fsGroup would.
    writable: Mapping[Path, str] = field(default_factory=dict)
    read_only: bool = True

    def arguments(self) -> list[str]:
        arguments = ["run", "--rm", "--network=host", "--no-healthcheck"]
        if self.read_only:
            # readOnlyRootFilesystem: no writable /tmp, /run or /var/tmp either (podman would mount tmpfs there).
            arguments += ["--read-only", "--read-only-tmpfs=false"]
        for target in self.scratch:
            # An emptyDir: writable by the image's user (--tmpfs ignores a mode; chown=true gives it the user).
            arguments += ["--mount", f"type=tmpfs,destination={target},chown=true"]
        for source, target in self.volumes.items():
            arguments += ["--volume", f"{source}:{target}:ro"]
        for source, target in self.writable.items():
            arguments += ["--volume", f"{source}:{target}:rw"]
        for key, value in self.environment.items():
            arguments += ["--env", f"{key}={value}"]
        if self.entrypoint is not None:
            arguments += ["--entrypoint", self.entrypoint]
        return [*arguments, self.image, *self.command]


def run_container(engine: Podman, spec: ContainerRun, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """Run a container to its end; the result carries its exit code and output (no exception on failure)."""
    return engine.run(*spec.arguments(), timeout=timeout, check=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m civiclake.servers.images", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"images to build (default: {' '.join(NAMES)})")
    names = parser.parse_args(argv).names or list(NAMES)
    unknown = sorted(set(names) - set(NAMES))
    if unknown:
        parser.error(f"no image named {', '.join(unknown)}: choose among {', '.join(NAMES)}")
    try:
        engine = podman()
        started = time.monotonic()
        base = python_image(engine)
        print(f"base {base} ({time.monotonic() - started:.1f} s)", file=sys.stderr)
        for name in names:
            built = build_image(engine, name, base)
            print(f"{built.tag}  {built.size_bytes / 1e6:.0f} MB  built in {built.seconds:.1f} s")
    except ServerUnavailableError as error:
        print(f"images: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
