"""The images built for real: podman builds images/*/Dockerfile on a Debian base made here
(civiclake.servers.images), once per test run and only the images the selected tests use. The bases and podman's
layers are cached on the machine: a rerun rebuilds nothing that did not change."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml

from civiclake.servers import images
from civiclake.servers.images import BuiltImage, Podman
from tests.servers.debian import ensure_debian_packages

# What scripts/install-system-deps.sh installs for the images (debootstrap needs no other tool here).
PODMAN_PACKAGES = ["podman", "buildah", "runc", "uidmap", "fuse-overlayfs", "slirp4netns", "debootstrap"]
VALUES = yaml.safe_load((images.repository_root() / "charts" / "civiclake" / "values.yaml").read_text())


def chart_user(name: str) -> tuple[int, int]:
    """The uid and gid the chart runs an image's pods with."""
    context = VALUES["airflow"]["securityContexts"]["pod"] if name == "airflow" else VALUES["podSecurityContext"]
    return int(context["runAsUser"]), int(context["runAsGroup"])


@pytest.fixture(scope="session")
def engine() -> Podman:
    ensure_debian_packages(PODMAN_PACKAGES, ["podman", "buildah", "runc", "newuidmap", "debootstrap"])
    return images.podman()


@pytest.fixture(scope="session")
def built_image(engine: Podman) -> Callable[[str], BuiltImage]:
    """Builds an image the first time a test asks for it in this run (podman's cache makes that quick if it was
    built before on this machine)."""
    built: dict[str, BuiltImage] = {}

    def build(name: str) -> BuiltImage:
        if name not in built:
            built[name] = images.build_image(engine, name, images.python_image(engine))
        return built[name]

    return build
