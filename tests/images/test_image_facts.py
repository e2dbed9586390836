"""What each built image is, looked at from inside a running container: the chart's non-root user, no pip and no
compiler anywhere on it, a root file system that stays read-only as the pods mount it, and its size."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from civiclake.servers.images import NAMES, BuiltImage, ContainerRun, Podman, run_container

from .conftest import chart_user

pytestmark = pytest.mark.integration

# Sizes measured on the Debian base made here (uncompressed, as `podman images` shows them), of which the base is
# 164 MB: ingest 869 MB (pyarrow, pyiceberg, duckdb, polars), dbt 969 MB (the same plus dbt-core and its adapters),
# airflow 590 MB. The bounds leave about a quarter of headroom for dependency upgrades; past them, look at what grew.
SIZE_BOUNDS_GB = {"ingest": 1.1, "dbt": 1.2, "airflow": 0.75}
COMPILERS = ("gcc", "cc", "c++", "g++", "clang", "x86_64-linux-gnu-gcc-12", "make")
# Run by the image's own Python: what the container sees of itself.
PROBE = """
import glob, json, os, shutil, sys
def writable(path):
    try:
        with open(os.path.join(path, ".probe"), "w"):
            pass
    except OSError:
        return False
    os.remove(os.path.join(path, ".probe"))
    return True
print(json.dumps({
    "uid": os.getuid(),
    "gid": os.getgid(),
    "python": sys.executable,
    "commands": {name: shutil.which(name) for name in ["pip", "pip3", *sys.argv[1:]]},
    "pip_packages": sorted(glob.glob("/usr/**/pip/__init__.py", recursive=True)
                           + glob.glob("/opt/**/pip/__init__.py", recursive=True)),
    "writable": {path: writable(path) for path in ("/", "/usr", "/opt", "/tmp", os.environ.get("HOME", "/"))},
}))
"""


def probe(engine: Podman, image: BuiltImage) -> dict[str, object]:
    result = run_container(
        engine,
        ContainerRun(image.tag, ["-c", PROBE, *COMPILERS], entrypoint="python", scratch=()),
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", NAMES)
def test_the_image_runs_as_the_charts_non_root_user(
    name: str, built_image: Callable[[str], BuiltImage], engine: Podman
) -> None:
    image = built_image(name)
    uid, gid = chart_user(name)
    assert engine.inspect(image.tag, "{{.Config.User}}") == f"{uid}:{gid}"
    seen = probe(engine, image)
    assert (seen["uid"], seen["gid"]) == (uid, gid)
    # Read-only as the pods' readOnlyRootFilesystem, without their emptyDirs: nothing of the image is writable.
    writable = seen["writable"]
    assert isinstance(writable, dict) and {"/", "/usr", "/opt", "/tmp"} <= set(writable)
    assert [path for path, can_write in writable.items() if can_write] == []


@pytest.mark.parametrize("name", NAMES)
def test_the_image_has_no_pip_and_no_compiler(
    name: str, built_image: Callable[[str], BuiltImage], engine: Podman
) -> None:
    seen = probe(engine, built_image(name))
    assert seen["python"] in ("/opt/civiclake/venv/bin/python", "/opt/airflow-venv/bin/python")
    assert seen["commands"] == {command: None for command in ("pip", "pip3", *COMPILERS)}
    assert seen["pip_packages"] == []


@pytest.mark.parametrize("name", NAMES)
def test_the_image_stays_under_its_size_bound(name: str, built_image: Callable[[str], BuiltImage]) -> None:
    image = built_image(name)
    assert image.size_bytes < SIZE_BOUNDS_GB[name] * 1e9, f"{image.tag}: {image.size_bytes / 1e9:.2f} GB"
