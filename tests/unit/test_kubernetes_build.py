"""The Kubernetes build the API-server tests use: the k3s minor users install, and a build module that pins each
staging module to its published version."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from civiclake.servers.kubernetes import VERSION, build_module, staging_modules
from civiclake.servers.process import ServerUnavailableError

REPO = Path(__file__).resolve().parents[2]

KUBERNETES_GO_MOD = """\
module k8s.io/kubernetes

require (
\tk8s.io/api v0.0.0
\tk8s.io/client-go v0.0.0
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
\tk8s.io/kms => ./staging/src/k8s.io/kms
)
"""


def test_the_api_server_is_the_kubernetes_of_the_pinned_k3s_release() -> None:
    bootstrap = (REPO / "scripts" / "k3s-bootstrap.sh").read_text()
    pinned = re.search(r'^K3S_VERSION="(v[0-9.]+)\+k3s[0-9]+"', bootstrap, re.MULTILINE)
    assert pinned is not None
    assert pinned[1] == VERSION


def test_staging_modules_are_read_from_the_replace_block() -> None:
    assert staging_modules(KUBERNETES_GO_MOD) == ["k8s.io/api", "k8s.io/client-go", "k8s.io/kms"]


def test_the_build_module_pins_each_staging_module_to_the_matching_v0_release() -> None:
    text = build_module("v1.32.5", ["k8s.io/api", "k8s.io/client-go"])
    assert "require k8s.io/kubernetes v1.32.5" in text
    assert "\tk8s.io/api => k8s.io/api v0.32.5" in text
    assert "\tk8s.io/client-go => k8s.io/client-go v0.32.5" in text


def test_a_version_that_is_not_a_kubernetes_release_is_refused() -> None:
    with pytest.raises(ServerUnavailableError, match=r"v1\.<minor>\.<patch>"):
        build_module("1.32", ["k8s.io/api"])
