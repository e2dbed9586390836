"""The civiclake chart renders, with each values file, into valid, labelled, locked-down Kubernetes objects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import (
    KUBERNETES_VERSIONS,
    NAMESPACE,
    RELEASE,
    SCENARIOS,
    find,
    kubernetes_errors,
    one,
    pod_templates,
    rendered_scenario,
    strip,
    workloads,
)

SCENARIO_NAMES = sorted(SCENARIOS)
# Objects whose API group is a CRD have no schema in kubernetes-validate; the chart renders none.
RECOMMENDED_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/version",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
)


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_chart_renders_its_own_objects(scenario: str) -> None:
    objects = rendered_scenario(scenario)
    kinds = {o["kind"] for o in objects}
    assert {"ConfigMap", "Job", "Pod", "NetworkPolicy", "ServiceAccount"} <= kinds
    names = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects]
    assert len(names) == len(set(names)), "two objects share a kind, namespace and name"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_every_object_validates_strictly(scenario: str, version: str) -> None:
    objects = list(rendered_scenario(scenario)) + pod_templates(rendered_scenario(scenario))
    errors = {
        f"{o['kind']}/{o['metadata']['name']}": problems for o in objects if (problems := kubernetes_errors(o, version))
    }
    assert not errors, f"Kubernetes {version} strict schema errors: {errors}"


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_every_object_carries_the_recommended_labels(scenario: str) -> None:
    for obj in rendered_scenario(scenario):
        labels = obj["metadata"].get("labels", {})
        missing = [label for label in RECOMMENDED_LABELS if label not in labels]
        assert not missing, f"{obj['kind']}/{obj['metadata']['name']} lacks {missing}"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/part-of"] == "civiclake"


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_every_workload_is_non_root_read_only_and_bounded(scenario: str) -> None:
    found = workloads(rendered_scenario(scenario))
    assert {w[0].split("/")[0] for w in found} >= {"Job", "Pod", "pod-template"}
    for description, metadata, spec in found:
        pod_security = spec.get("securityContext", {})
        assert pod_security.get("runAsNonRoot") is True, description
        assert pod_security.get("seccompProfile", {}).get("type") == "RuntimeDefault", description
        assert spec.get("automountServiceAccountToken") is False, f"{description} mounts an API token"
        for container in spec["containers"] + spec.get("initContainers", []):
            where = f"{description} container {container['name']}"
            security = container.get("securityContext", {})
            assert security.get("allowPrivilegeEscalation") is False, where
            assert security.get("readOnlyRootFilesystem") is True, where
            assert security.get("capabilities", {}).get("drop") == ["ALL"], where
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(bound, {})), f"{where} lacks {bound}"
            # A read-only root needs somewhere to write temporary files.
            assert any(m["mountPath"] == "/tmp" for m in container.get("volumeMounts", [])), where
        assert metadata.get("annotations", {}).get("checksum/config"), f"{description} lacks checksum/config"


def _selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    wanted = policy["spec"]["podSelector"].get("matchLabels", {})
    return all(labels.get(k) == v for k, v in wanted.items())


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_network_policies_deny_by_default_and_cover_every_workload(scenario: str) -> None:
    objects = rendered_scenario(scenario)
    policies = find(objects, "NetworkPolicy")
    deny = one(objects, "NetworkPolicy", f"{RELEASE}-default-deny")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = one(objects, "NetworkPolicy", f"{RELEASE}-allow-dns")
    assert {p["port"] for p in dns["spec"]["egress"][0]["ports"]} == {53}
    specific = [p for p in policies if p["spec"]["podSelector"]]
    for description, metadata, _spec in workloads(objects):
        covering = [p["metadata"]["name"] for p in specific if _selects(p, metadata["labels"])]
        assert covering, f"no NetworkPolicy beyond default deny selects {description}"


@pytest.mark.parametrize(
    ("dependency", "policy_suffix"),
    [
        ("trino", "trino"),
        ("postgresql", "postgresql"),
        ("minio", "minio"),
        ("airflow", "airflow"),
        ("prometheus", "prometheus"),
        ("prometheus", "pushgateway"),
        ("grafana", "grafana"),
    ],
)
def test_each_enabled_dependency_gets_its_network_policy(dependency: str, policy_suffix: str) -> None:
    name = f"{RELEASE}-{policy_suffix}"
    assert find(rendered_scenario("default"), "NetworkPolicy", name)
    assert not find(rendered_scenario("all-external"), "NetworkPolicy", name)


def test_postgresql_is_reachable_only_from_the_components_that_use_it() -> None:
    policy = one(rendered_scenario("default"), "NetworkPolicy", f"{RELEASE}-postgresql")
    (rule,) = policy["spec"]["ingress"]
    peers = {tuple(sorted(p["podSelector"]["matchLabels"].items())) for p in rule["from"]}
    assert len(peers) == 4
    assert [p["port"] for p in rule["ports"]] == [5432]
    assert policy["spec"]["egress"] == []


def test_pipeline_tasks_reach_the_internet_but_not_private_ranges() -> None:
    policy = one(rendered_scenario("default"), "NetworkPolicy", f"{RELEASE}-pipeline-task")
    blocks = [peer["ipBlock"] for rule in policy["spec"]["egress"] for peer in rule["to"] if "ipBlock" in peer]
    assert {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]} in blocks
    assert policy["spec"]["ingress"] == []


def test_no_secret_is_rendered_unless_the_demo_asks_for_it() -> None:
    for scenario in ("default", "k3s-single-node", "production", "all-external"):
        assert not find(rendered_scenario(scenario), "Secret"), scenario
    generated = find(rendered_scenario("demo-generated-secrets"), "Secret")
    assert {s["metadata"]["name"] for s in generated} == {
        "civiclake-s3-credentials",
        "civiclake-pg-credentials",
        "civiclake-airflow-metadata",
        "civiclake-airflow-keys",
        "civiclake-grafana-admin",
        "civiclake-privacy",
    }
    for secret in generated:
        assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_generated_airflow_connection_uses_the_generated_airflow_password() -> None:
    import base64

    objects = rendered_scenario("demo-generated-secrets")
    pg = one(objects, "Secret", "civiclake-pg-credentials")
    password = base64.b64decode(pg["data"]["airflow-password"]).decode()
    connection = one(objects, "Secret", "civiclake-airflow-metadata")["stringData"]["connection"]
    assert connection == f"postgresql://airflow:{password}@{RELEASE}-postgresql:5432/airflow"
    keys = one(objects, "Secret", "civiclake-airflow-keys")["data"]
    fernet = base64.b64decode(base64.b64decode(keys["fernet-key"]))
    assert len(fernet) == 32, "a Fernet key is 32 bytes, base64 encoded"


def test_helm_test_pod_runs_a_real_trino_query_on_the_iceberg_catalog() -> None:
    pod = one(rendered_scenario("default"), "Pod", f"{RELEASE}-test-trino-query")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = pod["spec"]["containers"]
    script = container["args"][0]
    assert "trino --server" in script
    assert "FROM iceberg.information_schema.schemata" in script
    assert "'bronze', 'meta', 'silver', 'gold'" in script
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["TRINO_URL"] == f"http://{RELEASE}-trino:8080"
    external = one(rendered_scenario("all-external"), "Pod", f"{RELEASE}-test-trino-query")
    assert {e["name"]: e["value"] for e in external["spec"]["containers"][0]["env"]}["TRINO_URL"] == (
        "https://trino.example.org:8443"
    )


def test_bootstrap_job_is_an_idempotent_hook_with_the_pipeline_settings() -> None:
    job = one(rendered_scenario("default"), "Job", f"{RELEASE}-bootstrap")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "/opt/civiclake-bootstrap/bootstrap.py"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CIVICLAKE_BOOTSTRAP_NAMESPACES"] == "bronze,meta,silver,gold"
    assert container["envFrom"] == [{"configMapRef": {"name": f"{RELEASE}-pipeline-env"}}]
    script = one(rendered_scenario("default"), "ConfigMap", f"{RELEASE}-bootstrap")["data"]["bootstrap.py"]
    compile(script, "bootstrap.py", "exec")
    assert "create_namespace_if_not_exists" in script


def test_dashboards_and_rules_come_from_the_chart_files() -> None:
    import json

    import yaml

    from .conftest import CHART

    objects = rendered_scenario("default")
    dashboards = [cm for cm in find(objects, "ConfigMap") if "-dashboard-" in cm["metadata"]["name"]]
    files = sorted(p.name for p in (CHART / "dashboards").glob("*.json"))
    assert files and sorted(k for cm in dashboards for k in cm["data"]) == files
    for cm in dashboards:
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        for text in cm["data"].values():
            assert json.loads(text)["uid"]
    rules = one(objects, "ConfigMap", "civiclake-prometheus-rules")["data"]
    assert sorted(rules) == sorted(p.name for p in (CHART / "rules").glob("*.yaml"))
    for text in rules.values():
        for group in yaml.safe_load(text)["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    assert rule["annotations"]["runbook_url"].endswith(f"/docs/runbooks/{rule['alert']}.md")


def test_a_different_release_name_and_namespace_render() -> None:
    from .conftest import render_objects

    objects = render_objects({}, name="lake", namespace="data")
    env = one(objects, "ConfigMap", "lake-pipeline-env")["data"]
    assert env["CIVICLAKE__S3__ENDPOINT_URL"] == "http://lake-minio:9000"
    assert one(objects, "ConfigMap", "civiclake-trino-catalog-env")["metadata"]["namespace"] == "data"
    assert NAMESPACE != "data"


@pytest.mark.parametrize("version", [KUBERNETES_VERSIONS[0], KUBERNETES_VERSIONS[-1]])
def test_kubernetes_validate_cli_agrees(version: str, tmp_path: Path) -> None:
    """The kubernetes-validate command itself (`-k VERSION --strict`) on the k3s render, pod templates included."""
    objects = [strip(o) for o in rendered_scenario("k3s-single-node")] + pod_templates(
        rendered_scenario("k3s-single-node")
    )
    manifest = tmp_path / "civiclake.yaml"
    manifest.write_text(yaml.safe_dump_all(objects))
    cli = Path(sys.executable).with_name("kubernetes-validate")
    result = subprocess.run(
        [str(cli), "-k", version, "--strict", str(manifest)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("INFO") == len(objects), result.stdout
