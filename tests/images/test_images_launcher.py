"""The image launcher's own rules, without podman: where the Debian base comes from, what podman is told, the
arguments a pod-like run gets, and the command's usage errors."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest

from civiclake.servers import images
from civiclake.servers.images import ContainerRun


def test_the_debian_mirror_is_read_from_one_line_and_deb822_sources(tmp_path: Path) -> None:
    one_line = tmp_path / "sources.list"
    one_line.write_text("# a comment\ndeb [arch=amd64] http://mirror.example/debian bookworm main\n")
    deb822 = tmp_path / "debian.sources"
    deb822.write_text("Types: deb\nURIs: http://other.example/debian\nSuites: bookworm\n")
    assert images.debian_mirror([one_line]) == "http://mirror.example/debian"
    assert images.debian_mirror([tmp_path / "missing", deb822]) == "http://other.example/debian"
    assert images.debian_mirror([tmp_path / "missing"]) == images.DEFAULT_MIRROR


def test_podman_is_told_runc_cgroupfs_and_ulimits_within_the_hard_limits() -> None:
    text = images.containers_conf_text()
    assert 'runtime = "runc"' in text and 'cgroup_manager = "cgroupfs"' in text
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = int(text.split('"nofile=')[1].split(":")[0])
    assert hard == resource.RLIM_INFINITY or nofile <= hard


def test_a_pod_like_run_has_a_read_only_root_emptydirs_and_the_hosts_network() -> None:
    arguments = ContainerRun("img:1", ["sync"], environment={"A": "1"}, volumes={Path("/x"): "/y"}).arguments()
    assert arguments[:2] == ["run", "--rm"]
    assert {"--network=host", "--no-healthcheck", "--read-only", "--read-only-tmpfs=false"} <= set(arguments)
    mounts = [arguments[i + 1] for i, word in enumerate(arguments) if word == "--mount"]
    assert mounts == [
        "type=tmpfs,destination=/var/lib/civiclake,chown=true",
        "type=tmpfs,destination=/tmp,chown=true",
    ]
    assert "/x:/y:ro" in arguments and "A=1" in arguments
    assert arguments[-2:] == ["img:1", "sync"]


def test_the_python_base_tag_follows_its_recipe() -> None:
    first = images.python_containerfile("localhost/civiclake/debian:bookworm-r2", "http://deb.debian.org/debian")
    assert "deb http://deb.debian.org/debian-security bookworm-security main" in first
    assert "python3-venv" in first and "python3-pip " not in first  # the venv brings its own pip, the base none


def test_an_unknown_image_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        images.main(["ingest", "nginx"])
    assert exit_info.value.code == 2
    assert "no image named nginx" in capsys.readouterr().err
