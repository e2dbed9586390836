"""docs/deploy.md: the on-call guide covers what the issue asks and only names files that exist."""

from __future__ import annotations

import re

from .conftest import REPO

DOC = REPO / "docs" / "deploy.md"


def test_deploy_guide_covers_install_paths_operations_and_scaling() -> None:
    text = DOC.read_text()
    headings = set(re.findall(r"^## (.+)$", text, flags=re.MULTILINE))
    for heading in (
        "Sizing",
        "Install on k3s, step by step (Helm)",
        "Secrets",
        "Install with Terraform",
        "Install with Argo CD (GitOps)",
        "Upgrades",
        "Backups",
        "Scaling plan",
    ):
        assert heading in headings, heading
    for topic in ("Trino workers", "maxActiveTasks", "erasure set", "pg_dump", "mc mirror"):
        assert topic in text, topic


def test_deploy_guide_names_only_existing_repository_paths() -> None:
    text = DOC.read_text()
    paths = set(re.findall(r"`((?:charts|terraform|k8s|scripts|tests)/[A-Za-z0-9_./-]+?)/?`", text))
    assert len(paths) > 10
    for path in paths:
        if "<" in path or "{" in path:
            continue
        assert (REPO / path).exists(), path
