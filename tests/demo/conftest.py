"""Fixtures for the data.gouv.fr mirror tests: a running mirror and an httpx client on it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from civiclake.demo.mirror import MirrorServer


@pytest.fixture(scope="module")
def mirror() -> Iterator[MirrorServer]:
    """One mirror per test module, for tests that only read."""
    with MirrorServer() as server:
        yield server


@pytest.fixture
def fresh_mirror() -> Iterator[MirrorServer]:
    """A mirror of its own, for tests that inject faults or add datasets."""
    with MirrorServer() as server:
        yield server


@pytest.fixture
def client(mirror: MirrorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mirror.base_url, timeout=5) as http:
        yield http


@pytest.fixture
def fresh_client(fresh_mirror: MirrorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fresh_mirror.base_url, timeout=5) as http:
        yield http
