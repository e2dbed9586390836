"""The dbt image run as the chart's dbt pod runs it: ``dbt build --target trino`` against the suite's Trino (the
``cluster`` fixture, whose environment carries the dbt pod's TRINO_*), as the image's non-root user, with a read-only
root file system and emptyDirs for CIVICLAKE_HOME and /tmp, on the host's network.

Its bronze comes from the ingest image, run first as the ingest pods are: `civiclake sync` of the three data.gouv.fr
datasets of the open-data domain, from the bundled mirror, into the chart's bucket and catalog (what Trino reads).
Like tests/cluster, which pytest runs before this package, it writes the chart catalog's bronze, meta, silver and
gold: a sync of datasets already synced loads nothing new, and the build is then an incremental one.

The whole project takes longer than five minutes on Trino on a 2-core machine (tests/cluster builds it all), so
this builds one coherent part: the open-data marts with every parent (staging, intermediate, the seeds they use,
the meta models), their data tests and unit tests: every kind of node the image's dbt runs on a cluster."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from civiclake.demo.mirror.server import MirrorServer
from civiclake.servers.images import BuiltImage, ContainerRun, Podman, run_container
from civiclake.servers.stack import ClusterServers

from .conftest import chart_user

pytestmark = pytest.mark.integration

SELECTION = "+path:models/marts/open_data"
# The datasets the open-data models read (dags/datasets.yaml): postal codes, stations, station ridership.
DATASETS = ("53d65eb8bd2bb1511380c55a", "581c510f9f9d1d436acab664", "5ce572bf226c7f3345dfbc63")
HOME = "/var/lib/civiclake"  # the image's CIVICLAKE_HOME; DBT_TARGET_PATH is under it


@dataclass
class DbtRun:
    exit_code: int
    output: str
    seconds: float
    run_results: dict[str, Any]
    manifest: dict[str, Any]

    def built(self, resource_type: str) -> dict[str, str]:
        """unique_id -> status of the results of one kind of node."""
        return {
            result["unique_id"]: result["status"]
            for result in self.run_results["results"]
            if result["unique_id"].startswith(f"{resource_type}.")
        }


@pytest.fixture(scope="module")
def open_data_build(
    cluster: ClusterServers,
    built_image: Callable[[str], BuiltImage],
    engine: Podman,
    tmp_path_factory: pytest.TempPathFactory,
) -> DbtRun:
    ingest, dbt = built_image("ingest"), built_image("dbt")
    with MirrorServer() as mirror:
        synced = run_container(
            engine,
            ContainerRun(
                ingest.tag,
                ["sync", "--source", "datagouv", *(f"--dataset={dataset}" for dataset in DATASETS)],
                environment={**cluster.environment, "CIVICLAKE__DATAGOUV__API_URL": mirror.api_url},
            ),
            timeout=900,
        )
    assert synced.returncode == 0, synced.stdout[-4000:] + synced.stderr[-4000:]

    # CIVICLAKE_HOME is a host folder here (an emptyDir that outlives the pod), so that dbt's run results can be
    # read afterwards; it belongs to the image's user, as the pod's fsGroup would make it.
    home = tmp_path_factory.mktemp("dbt-home")
    os.chown(home, *chart_user("dbt"))
    started = time.monotonic()
    result = run_container(
        engine,
        ContainerRun(
            dbt.tag,
            ["build", "--target", "trino", "--select", SELECTION],
            environment=cluster.environment,
            scratch=("/tmp",),
            writable={home: HOME},
        ),
        timeout=1800,
    )
    seconds = time.monotonic() - started
    print(f"dbt build --select {SELECTION} in the dbt image: {seconds:.0f} s")  # shown by pytest -rP
    target = home / "dbt" / "target"
    return DbtRun(
        result.returncode,
        result.stdout + result.stderr,
        seconds,
        json.loads((target / "run_results.json").read_text()) if (target / "run_results.json").is_file() else {},
        json.loads((target / "manifest.json").read_text()) if (target / "manifest.json").is_file() else {},
    )


def test_the_dbt_image_builds_the_open_data_domain_on_trino_and_every_node_passes(open_data_build: DbtRun) -> None:
    run = open_data_build
    assert run.exit_code == 0, run.output[-6000:]
    assert run.run_results["args"]["target"] == "trino"
    failed = {
        result["unique_id"]: result["status"]
        for result in run.run_results["results"]
        if result["status"] not in ("success", "pass")
    }
    assert failed == {}
    models = run.built("model")
    # The domain with its parents: staging, intermediate and marts, the seeds, the data and unit tests.
    for layer in ("stg_datagouv__", "stg_meta__", "int_", "dim_", "fct_"):
        assert any(unique_id.split(".")[-1].startswith(layer) for unique_id in models), layer
    assert run.built("seed") and run.built("test") and run.built("unit_test")
    # Only the selection: no model of another domain.
    assert not any(domain in unique_id for unique_id in models for domain in ("olist", "shopstream", "incident"))


def test_trino_serves_every_relation_the_dbt_image_built(open_data_build: DbtRun, cluster: ClusterServers) -> None:
    run = open_data_build
    assert run.exit_code == 0, run.output[-6000:]
    nodes = run.manifest["nodes"]
    for unique_id in [*run.built("model"), *run.built("seed")]:
        node = nodes[unique_id]
        if node["config"]["materialized"] == "ephemeral":
            continue
        schema, name = node["schema"], node.get("alias") or node["name"]
        kind = "VIEW" if node["config"]["materialized"] == "view" else "BASE TABLE"
        found = cluster.trino.query(
            "SELECT table_type FROM iceberg.information_schema.tables "
            f"WHERE table_schema = '{schema}' AND table_name = '{name}'"
        )
        assert found == [(kind,)], f"{schema}.{name}: {found}"
        (count,) = cluster.trino.query(f'SELECT count(*) FROM iceberg."{schema}"."{name}"')[0]
        assert count > 0, f"{schema}.{name} is empty"
    (ridership,) = cluster.trino.query("SELECT count(*) FROM iceberg.gold.fct_station_ridership")[0]
    assert ridership > 1000
