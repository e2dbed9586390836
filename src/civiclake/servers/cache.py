"""The versioned cache of server builds and downloads, outside any checkout, reused across runs on one machine.

    ~/.cache/civiclake/            ($CIVICLAKE_CACHE_DIR, else $XDG_CACHE_HOME/civiclake)
        minio/<release>/minio      built with `go install` from the Go module proxy
        trino/<version>/...        trino-server-core and the Iceberg plugin from Maven Central
        trino-plugins/<plugin>-<version>/plugin     one plugin of the full trino-server archive (HTTP event listener)
        go/ maven/                 the module and artifact caches those builds fill (a rebuild downloads nothing)

An entry is built into a scratch folder beside its final place and renamed into place when complete, under a
file lock: two processes asking for the same entry build it once, and a build killed half-way leaves nothing that
looks finished.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

CACHE_VARIABLE = "CIVICLAKE_CACHE_DIR"


def cache_root(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    if environ.get(CACHE_VARIABLE):
        return Path(environ[CACHE_VARIABLE]).expanduser()
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "civiclake"


@contextmanager
def _locked(lock_file: Path) -> Iterator[None]:
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cached_entry(component: str, version: str, build: Callable[[Path], None], *, root: Path | None = None) -> Path:
    """The folder ``<cache>/<component>/<version>``, made by ``build(scratch_folder)`` the first time only."""
    final = (root or cache_root()) / component / version
    if final.is_dir():
        return final
    with _locked(final.parent / f".{version}.lock"):
        if final.is_dir():  # built by another process while this one waited
            return final
        scratch = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=final.parent))
        try:
            build(scratch)
            scratch.rename(final)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return final
