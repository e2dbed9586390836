"""Install the Debian packages a test needs, instead of skipping the test.

A skipped integration test proves nothing, so a missing server binary is installed with apt-get (the machines that
run these tests are Debian 12, as root). ``scripts/install-system-deps.sh`` installs the same packages up front.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

_APT_LOCK = threading.Lock()
_apt_updated = False


def _binary_present(binary: str) -> bool:
    """True if ``binary`` is an absolute path that exists, or a command on the PATH."""
    if os.path.isabs(binary):
        return os.access(binary, os.X_OK)
    return shutil.which(binary) is not None


def missing_binaries(binaries: Iterable[str]) -> list[str]:
    return [binary for binary in binaries if not _binary_present(binary)]


def _run_apt(args: list[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log.info("running: %s", " ".join(args))
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        raise RuntimeError(
            f"`{' '.join(args)}` failed with exit code {result.returncode}. "
            f"Install the packages by hand (as root: scripts/install-system-deps.sh).\n{tail}"
        )


def ensure_debian_packages(packages: list[str], binaries: list[str]) -> None:
    """Make sure every one of ``binaries`` exists, installing ``packages`` with apt-get if one is missing.

    ``binaries`` are command names looked up on the PATH, or absolute paths. ``apt-get update`` runs at most once per
    process. Raises RuntimeError, with the end of apt-get's output, if the install fails or if the binaries are still
    missing afterwards.
    """
    missing = missing_binaries(binaries)
    if not missing:
        return
    global _apt_updated
    with _APT_LOCK:
        missing = missing_binaries(binaries)
        if not missing:
            return
        if os.geteuid() != 0:
            raise RuntimeError(
                f"missing {', '.join(missing)}: installing Debian packages {', '.join(packages)} needs root. "
                "Run scripts/install-system-deps.sh as root."
            )
        if shutil.which("apt-get") is None or not Path("/etc/debian_version").exists():
            raise RuntimeError(
                f"missing {', '.join(missing)} and this is not a Debian system with apt-get: "
                f"install the equivalent of Debian packages {', '.join(packages)}."
            )
        if not _apt_updated:
            _run_apt(["apt-get", "update"])
            _apt_updated = True
        _run_apt(["apt-get", "install", "-y", "--no-install-recommends", *packages])
        still_missing = missing_binaries(binaries)
        if still_missing:
            raise RuntimeError(
                f"installed Debian packages {', '.join(packages)} but {', '.join(still_missing)} "
                "is still missing: wrong package name?"
            )
