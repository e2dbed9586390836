"""Tests of the cluster profile on real servers: the suite's ``cluster`` fixture (tests/conftest.py) runs
PostgreSQL, MinIO and Trino as `civiclake dev up` does, configured from the Helm chart."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration
