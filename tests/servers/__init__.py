"""Real servers for integration tests: PostgreSQL 15 and a single-node Ceph radosgw (S3).

- ``postgres.running_postgres(base_dir)`` -> ``PostgresServer``
- ``radosgw.running_radosgw(base_dir)`` -> ``S3Server``
- ``debian.ensure_debian_packages(packages, binaries)`` installs what is missing instead of skipping.

Each server is a context manager that picks free ports, waits until the server answers, and on exit kills it and
removes its files. See README.md in this folder.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail_of(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file, for error messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<{path}: {exc.strerror}>"
    return "\n".join(text.splitlines()[-lines:])


def wait_until(
    ready: Callable[[], bool], timeout: float, what: str, diagnostics: Callable[[], str], interval: float = 0.1
) -> None:
    """Call ``ready`` until it returns True; after ``timeout`` seconds raise TimeoutError with ``diagnostics()``."""
    deadline = time.monotonic() + timeout
    while True:
        if ready():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:g} s\n{diagnostics()}")
        time.sleep(interval)
