"""What the chart's dependencies do with civiclake's values, recorded as facts with their source version.

These tests render the civiclake chart alone (the dependencies are not downloaded here), so what the upstream charts
render is written down below, checked once against the pinned versions of charts/civiclake/Chart.yaml:

- Trino 1.40.0 (trinodb/charts tag trino-1.40.0), MinIO 5.4.0 (minio/minio helm/minio, commit 43a7402 "update helm
  release v5.4.0"), PostgreSQL 16.7.27 (bitnami/charts tag postgresql/16.7.27, with common 2.31.4), Prometheus
  27.19.0 (prometheus-community/helm-charts tag prometheus-27.19.0, with alertmanager 1.20.1, kube-state-metrics
  5.33.2, prometheus-node-exporter 4.46.1, prometheus-pushgateway 3.3.0 as its Chart.lock pins) and Grafana 9.4.5
  (grafana/helm-charts tag grafana-9.4.5): the civiclake chart rendered with those charts in its charts/ folder,
  release `civiclake`, with values.yaml, values-k3s-single-node.yaml and values-production.yaml.
- Apache Airflow 1.22.0: its repository is too large to fetch here, so its facts come from its templates' naming
  rules (`{{ .Release.Name }}-<component>`, useStandardNaming false), its 1.21.0 and 1.22.0 release notes and the
  pull requests they cite (#64730, #64746, #65059, #66598, #66730), not from a render.

When a dependency's version changes in Chart.yaml, render again with the new charts and update these facts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from .conftest import CHART, RELEASE, REPO, SCENARIOS, deep_merge, find, one, render_objects, rendered_scenario

CHART_YAML = yaml.safe_load((CHART / "Chart.yaml").read_text())
PINNED = {d["name"]: d["version"] for d in CHART_YAML["dependencies"]}
VERIFIED_VERSIONS = {
    "airflow": "1.22.0",
    "trino": "1.40.0",
    "minio": "5.4.0",
    "postgresql": "16.7.27",
    "prometheus": "27.19.0",
    "grafana": "9.4.5",
}

# (kind, name) of every object each dependency renders for the release `civiclake` with civiclake's values files
# (union of the default, k3s and production renders). Alertmanager objects appear with values-production.yaml.
DEPENDENCY_OBJECTS: dict[str, frozenset[tuple[str, str]]] = {
    "trino": frozenset(
        {
            # <fullname>-catalog holds iceberg/tpch/tpcds.properties, mounted at /etc/trino/catalog.
            ("ConfigMap", "civiclake-trino-catalog"),
            ("ConfigMap", "civiclake-trino-coordinator"),
            ("ConfigMap", "civiclake-trino-schemas-volume-coordinator"),
            ("ConfigMap", "civiclake-trino-schemas-volume-worker"),
            ("ConfigMap", "civiclake-trino-worker"),
            ("Deployment", "civiclake-trino-coordinator"),
            ("Deployment", "civiclake-trino-worker"),
            ("Pod", "civiclake-trino-test-connection"),
            ("Service", "civiclake-trino"),
            ("Service", "civiclake-trino-worker"),
        }
    ),
    "minio": frozenset(
        {
            ("ConfigMap", "civiclake-minio"),
            ("Deployment", "civiclake-minio"),
            ("StatefulSet", "civiclake-minio"),
            ("PersistentVolumeClaim", "civiclake-minio"),
            ("Service", "civiclake-minio"),
            ("Service", "civiclake-minio-console"),
            ("Service", "civiclake-minio-svc"),
            ("ServiceAccount", "minio-sa"),
        }
    ),
    "postgresql": frozenset(
        {
            ("PodDisruptionBudget", "civiclake-postgresql"),
            ("Service", "civiclake-postgresql"),
            ("Service", "civiclake-postgresql-hl"),
            ("ServiceAccount", "civiclake-postgresql"),
            ("StatefulSet", "civiclake-postgresql"),
        }
    ),
    "prometheus": frozenset(
        {
            ("ClusterRole", "civiclake-prometheus-server"),
            ("ClusterRoleBinding", "civiclake-prometheus-server"),
            ("ConfigMap", "civiclake-prometheus-server"),
            ("Deployment", "civiclake-prometheus-server"),
            ("PersistentVolumeClaim", "civiclake-prometheus-server"),
            ("Service", "civiclake-prometheus-server"),
            ("ServiceAccount", "civiclake-prometheus-server"),
            ("Deployment", "civiclake-prometheus-pushgateway"),
            ("Service", "civiclake-prometheus-pushgateway"),
            ("ServiceAccount", "civiclake-prometheus-pushgateway"),
            ("ConfigMap", "civiclake-alertmanager"),
            ("Service", "civiclake-alertmanager"),
            ("Service", "civiclake-alertmanager-headless"),
            ("ServiceAccount", "civiclake-alertmanager"),
            ("StatefulSet", "civiclake-alertmanager"),
        }
    ),
    "grafana": frozenset(
        {
            ("ConfigMap", "civiclake-grafana"),
            ("ConfigMap", "civiclake-grafana-config-dashboards"),
            ("Deployment", "civiclake-grafana"),
            ("PersistentVolumeClaim", "civiclake-grafana"),
            ("Role", "civiclake-grafana"),
            ("RoleBinding", "civiclake-grafana"),
            ("Service", "civiclake-grafana"),
            ("ServiceAccount", "civiclake-grafana"),
        }
    ),
    # From the chart's naming rules, with civiclake's values (LocalExecutor, or KubernetesExecutor in production).
    "airflow": frozenset(
        {
            ("ConfigMap", "civiclake-config"),
            ("ConfigMap", "civiclake-statsd"),
            ("Secret", "civiclake-broker-url"),  # unless data.brokerUrlSecretName is set: see below
            ("StatefulSet", "civiclake-scheduler"),
            ("Deployment", "civiclake-scheduler"),
            ("Deployment", "civiclake-api-server"),
            ("Deployment", "civiclake-dag-processor"),
            ("StatefulSet", "civiclake-triggerer"),
            ("Deployment", "civiclake-statsd"),
            ("Service", "civiclake-scheduler"),
            ("Service", "civiclake-api-server"),
            ("Service", "civiclake-triggerer"),
            ("Service", "civiclake-statsd"),
            ("Job", "civiclake-run-airflow-migrations"),
            ("ServiceAccount", "civiclake-airflow-scheduler"),
            ("ServiceAccount", "civiclake-airflow-worker"),
            ("ServiceAccount", "civiclake-worker"),
            ("ServiceAccount", "civiclake-api-server"),
            ("ServiceAccount", "civiclake-dag-processor"),
            ("ServiceAccount", "civiclake-triggerer"),
            ("ServiceAccount", "civiclake-statsd"),
            ("ServiceAccount", "civiclake-migrate-database-job"),
            ("Role", "civiclake-pod-launcher-role"),
            ("RoleBinding", "civiclake-pod-launcher-rolebinding"),
            ("Role", "civiclake-pod-log-reader-role"),
            ("RoleBinding", "civiclake-pod-log-reader-rolebinding"),
        }
    ),
}

# Trino 1.40.0: the chart's catalog ConfigMap is `{{ template "trino.fullname" . }}-catalog` (templates/_helpers.tpl
# "trino.catalog"), mounted at {{ .Values.server.config.path }}/catalog (/etc/trino/catalog).
TRINO_CHART_CATALOG_CONFIGMAP = f"{RELEASE}-trino-catalog"

# Alertmanager 1.20.1 (prometheus 27.19.0's subchart): pod labels, HTTP port 9093, cluster (gossip) port 9094.
# Prometheus 27.19.0 finds it through Kubernetes pod discovery (alerting.alertmanagers: role pod, keep
# app.kubernetes.io/name=alertmanager, instance=<release>, container port 9093).
ALERTMANAGER_POD_LABELS = {"app.kubernetes.io/name": "alertmanager", "app.kubernetes.io/instance": RELEASE}
PROMETHEUS_SERVER_POD_LABELS = {
    "app.kubernetes.io/name": "prometheus",
    "app.kubernetes.io/instance": RELEASE,
    "app.kubernetes.io/component": "server",
}
ALERTMANAGER_PORT = 9093

# Airflow 1.22.0 values.yaml: workers.persistence (enabled, size 100Gi) is also the scheduler's `logs`
# volumeClaimTemplate when the executor is LocalExecutor (the scheduler then runs the tasks as a StatefulSet).
AIRFLOW_WORKERS_PERSISTENCE_DEFAULT_SIZE = "100Gi"
# Airflow 1.22.0 templates/secrets/redis-secrets.yaml renders `<release>-broker-url` "even if we aren't currently
# using CeleryExecutor", unless data.brokerUrlSecretName is set; with redis disabled and no data.brokerUrl it
# holds printf "%s" of nil: `%!s(<nil>)`.
AIRFLOW_BROKER_URL_SECRET = f"{RELEASE}-broker-url"

# Every Airflow value civiclake sets (values files, Argo CD, Terraform), as dotted paths, each one a key of the
# Airflow chart 1.22.0's values.schema.json. Free-form subtrees (Kubernetes objects, airflow.cfg sections) stop the
# path. A key added to civiclake's values must be checked against that schema, then added here.
AIRFLOW_1_22_0_KEYS = frozenset(
    {
        "airflowVersion",
        "defaultAirflowRepository",
        "defaultAirflowTag",
        "executor",
        "allowPodLaunching",
        "postgresql.enabled",
        "redis.enabled",
        "pgbouncer.enabled",
        "statsd.enabled",
        "statsd.resources",
        "statsd.securityContexts.pod",
        "statsd.securityContexts.container",
        "statsd.overrideMappings",
        "data.metadataSecretName",
        "data.brokerUrlSecretName",
        "fernetKeySecretName",
        "apiSecretKeySecretName",
        "jwtSecretName",
        "migrateDatabaseJob.useHelmHooks",
        "migrateDatabaseJob.applyCustomEnv",
        "migrateDatabaseJob.args",
        "migrateDatabaseJob.resources",
        "migrateDatabaseJob.jobAnnotations",
        "createUserJob.enabled",
        "createUserJob.useHelmHooks",
        "createUserJob.applyCustomEnv",
        "dags.gitSync.enabled",
        "dags.gitSync.repo",
        "dags.gitSync.branch",
        "dags.gitSync.ref",
        "dags.gitSync.subPath",
        "dags.gitSync.period",
        "extraEnvFrom",
        "securityContexts.pod",
        "securityContexts.containers",
        "scheduler.replicas",
        "scheduler.serviceAccount.name",
        "scheduler.resources",
        "scheduler.extraVolumes",
        "scheduler.extraVolumeMounts",
        "scheduler.logGroomerSidecar.resources",
        "workers.persistence.size",
        "workers.resources",
        # Added by 1.21.0 (#64730, #64746, #65059); 1.22.0 fixed their use in the pod template and RBAC (#66598,
        # #66730).
        "workers.kubernetes.serviceAccount.create",
        "workers.kubernetes.serviceAccount.name",
        "workers.kubernetes.extraVolumes",
        "workers.kubernetes.extraVolumeMounts",
        "apiServer.replicas",
        "apiServer.resources",
        "dagProcessor.resources",
        "triggerer.enabled",
        "triggerer.resources",
        "triggerer.persistence.size",
        "config",
    }
)
# Deprecated by the Airflow chart 1.21.0 in favour of workers.celery.* / workers.kubernetes.*.
AIRFLOW_DEPRECATED_KEYS = frozenset(
    {
        "workers.serviceAccount",
        "workers.extraVolumes",
        "workers.extraVolumeMounts",
        "workers.extraContainers",
        "workers.extraInitContainers",
        "workers.safeToEvict",
        "workers.priorityClassName",
        "workers.command",
        "workers.securityContexts",
        "workers.nodeSelector",
        "workers.tolerations",
        "workers.affinity",
    }
)
# Values whose content is free-form for the schema's purpose (Kubernetes objects, airflow.cfg).
AIRFLOW_FREE_FORM = (
    "resources",
    "securityContexts.pod",
    "securityContexts.container",
    "securityContexts.containers",
    "config",
    "jobAnnotations",
)


# --- the setups a person installs with ------------------------------------------------------------------------


def _values_file(name: str) -> dict[str, Any]:
    return yaml.safe_load((CHART / name).read_text())


def _argocd_values() -> dict[str, Any]:
    documents = yaml.safe_load_all((REPO / "k8s" / "argocd" / "application.yaml").read_text())
    (app,) = [d for d in documents if d and d.get("kind") == "Application" and d["metadata"]["name"] == "civiclake"]
    values: dict[str, Any] = {}
    for values_file in app["spec"]["source"]["helm"]["valueFiles"]:
        values = deep_merge(values, _values_file(values_file))
    return deep_merge(values, app["spec"]["source"]["helm"].get("valuesObject", {}))


def _terraform_values() -> dict[str, Any]:
    """terraform/modules/civiclake/values.yaml.tftpl (sample variables), then the example's k3s values file."""
    template = (REPO / "terraform" / "modules" / "civiclake" / "values.yaml.tftpl").read_text()
    sample = {
        "lake_bucket": "civiclake",
        "catalog_name": "civiclake",
        "pipeline_max_active_tasks": 2,
        "s3_secret_name": "civiclake-s3-credentials",
        "postgresql_secret_name": "civiclake-pg-credentials",
    }
    text = re.sub(r"\$\{jsonencode\((\w+)\)\}", lambda m: json.dumps(sample[m.group(1)]), template)
    return deep_merge(yaml.safe_load(text), _values_file("values-k3s-single-node.yaml"))


SETUPS: dict[str, dict[str, Any]] = {
    "default": {},
    "k3s-single-node": _values_file("values-k3s-single-node.yaml"),
    "production": _values_file("values-production.yaml"),
    "argocd": _argocd_values(),
    "terraform": _terraform_values(),
}


def _merged(setup: str) -> dict[str, Any]:
    return deep_merge(_values_file("values.yaml"), SETUPS[setup])


def _launcher_subjects(values: dict[str, Any]) -> list[str]:
    binding = one(render_objects(values), "RoleBinding", f"{RELEASE}-pipeline-launcher")
    return [s["name"] for s in binding["subjects"]]


def _gibibytes(quantity: str) -> float:
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)(Mi|Gi|Ti)", quantity).groups()  # type: ignore[union-attr]
    return float(number) * {"Mi": 1 / 1024, "Gi": 1, "Ti": 1024}[unit]


# --- tests ------------------------------------------------------------------------------------------------------


def test_the_recorded_facts_are_for_the_pinned_versions() -> None:
    assert PINNED == VERIFIED_VERSIONS, "a dependency moved: render with the new chart and update this file"


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_no_object_of_the_chart_takes_a_name_a_dependency_creates(scenario: str) -> None:
    """Two objects of one kind and name in one namespace: the second overwrites the first (or the install fails)."""
    values = deep_merge(_values_file("values.yaml"), SCENARIOS[scenario])
    ours = {(o["kind"], o["metadata"]["name"]) for o in rendered_scenario(scenario)}
    for dependency, objects in DEPENDENCY_OBJECTS.items():
        if values[dependency]["enabled"]:
            assert not ours & objects, f"{scenario}: civiclake and {dependency} both create {sorted(ours & objects)}"


def test_trino_reads_the_catalog_settings_from_civiclakes_own_configmap() -> None:
    (source,) = _values_file("values.yaml")["trino"]["envFrom"]
    name = source["configMapRef"]["name"]
    assert name != TRINO_CHART_CATALOG_CONFIGMAP
    data = one(rendered_scenario("default"), "ConfigMap", name)["data"]
    assert data["CIVICLAKE_TRINO_JDBC_URL"].startswith("jdbc:postgresql://")


@pytest.mark.parametrize(
    ("setup", "account"),
    [
        # LocalExecutor: the task, hence KubernetesPodOperator, runs in the scheduler pod.
        ("default", "civiclake-airflow-scheduler"),
        ("k3s-single-node", "civiclake-airflow-scheduler"),
        ("argocd", "civiclake-airflow-scheduler"),
        ("terraform", "civiclake-airflow-scheduler"),
        # KubernetesExecutor: each task runs in a worker pod of its own, as workers.kubernetes.serviceAccount.
        ("production", "civiclake-airflow-worker"),
    ],
)
def test_the_launcher_role_is_bound_to_the_account_that_starts_pipeline_pods(setup: str, account: str) -> None:
    values = _merged(setup)
    assert _launcher_subjects(values) == [account]
    airflow = values["airflow"]
    if airflow["executor"] == "LocalExecutor":
        assert airflow["scheduler"]["serviceAccount"]["name"] == account
        assert airflow["scheduler"]["serviceAccount"].get("create", True) is True, "the Airflow chart creates it"
    else:
        assert airflow["executor"] == "KubernetesExecutor"
        # 1.22.0: created by templates/workers/worker-kubernetes-serviceaccount.yaml (create and KubernetesExecutor)
        # and used by the worker pod template once workers.kubernetes.serviceAccount.create is set.
        assert airflow["workers"]["kubernetes"]["serviceAccount"] == {"create": True, "name": account}


@pytest.mark.parametrize(
    ("airflow", "accounts"),
    [
        ({"scheduler": {"serviceAccount": {"name": ""}}}, ["civiclake-scheduler"]),
        ({"executor": "airflow.executors.local_executor.LocalExecutor"}, ["civiclake-airflow-scheduler"]),
        ({"executor": "KubernetesExecutor", "allowPodLaunching": True}, ["civiclake-airflow-worker"]),
        (
            {
                "executor": "k8s:airflow.providers.cncf.kubernetes.executors.kubernetes_executor.KubernetesExecutor",
                "allowPodLaunching": True,
                "workers": {"kubernetes": {"serviceAccount": {"name": ""}}},
            },
            ["civiclake-worker-kubernetes"],
        ),
        (
            {
                "executor": "KubernetesExecutor",
                "allowPodLaunching": True,
                "workers": {"kubernetes": {"serviceAccount": {"create": None}}, "serviceAccount": {"name": "legacy"}},
            },
            ["legacy"],
        ),
        (
            {
                "executor": "KubernetesExecutor",
                "allowPodLaunching": True,
                "workers": {"kubernetes": {"serviceAccount": {"create": None}}},
            },
            ["civiclake-worker"],
        ),
        (
            {"executor": "LocalExecutor,KubernetesExecutor", "allowPodLaunching": True},
            ["civiclake-airflow-scheduler", "civiclake-airflow-worker"],
        ),
    ],
)
def test_launcher_accounts_follow_the_airflow_chart_naming(airflow: dict[str, Any], accounts: list[str]) -> None:
    assert _launcher_subjects({"airflow": airflow}) == accounts


def test_prometheus_reaches_alertmanager_and_alertmanager_reaches_its_receivers() -> None:
    objects = rendered_scenario("production")
    assert _merged("production")["prometheus"]["alertmanager"]["enabled"] is True
    policy = one(objects, "NetworkPolicy", f"{RELEASE}-alertmanager")
    assert policy["spec"]["podSelector"]["matchLabels"] == ALERTMANAGER_POD_LABELS
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}

    def selects(peer: dict[str, Any], labels: dict[str, str]) -> bool:
        wanted = peer.get("podSelector", {}).get("matchLabels", {})
        return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())

    # Ingress: Prometheus on the Alertmanager API port.
    assert any(
        any(selects(peer, PROMETHEUS_SERVER_POD_LABELS) for peer in rule["from"])
        and {"protocol": "TCP", "port": ALERTMANAGER_PORT} in rule["ports"]
        for rule in policy["spec"]["ingress"]
    )
    # Prometheus' own egress lets it out to Alertmanager's pods (a rule without ports allows every port).
    prometheus = one(objects, "NetworkPolicy", f"{RELEASE}-prometheus")
    assert any(
        any(selects(peer, ALERTMANAGER_POD_LABELS) for peer in rule["to"])
        and any(p.get("port") in (None, ALERTMANAGER_PORT) for p in rule.get("ports", [{}]))
        for rule in prometheus["spec"]["egress"]
    )
    # Egress: notifications leave the cluster (HTTPS webhooks, SMTP submission), private ranges stay closed.
    blocks = [
        (peer["ipBlock"], {p["port"] for p in rule["ports"]})
        for rule in policy["spec"]["egress"]
        for peer in rule["to"]
        if "ipBlock" in peer
    ]
    assert (
        {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]},
        {443, 587, 465},
    ) in blocks
    for scenario in ("default", "k3s-single-node"):
        assert not find(rendered_scenario(scenario), "NetworkPolicy", f"{RELEASE}-alertmanager")


def test_no_notification_cidr_opens_nothing() -> None:
    """An egress rule whose `to` is empty allows every destination: no CIDR must mean no rule."""
    values = {"prometheus": {"alertmanager": {"enabled": True}}, "networkPolicy": {"alertmanagerEgress": {"cidrs": []}}}
    policy = one(render_objects(values), "NetworkPolicy", f"{RELEASE}-alertmanager")
    assert all(rule.get("to") for rule in policy["spec"]["egress"])
    assert not [peer for rule in policy["spec"]["egress"] for peer in rule["to"] if "ipBlock" in peer]


@pytest.mark.parametrize(
    ("setup", "largest"), [("default", 10), ("k3s-single-node", 5), ("argocd", 5), ("terraform", 5)]
)
def test_the_task_log_volume_is_sized_for_the_setup(setup: str, largest: float) -> None:
    airflow = _merged(setup)["airflow"]
    assert airflow["executor"] == "LocalExecutor", "the scheduler keeps the task logs only with LocalExecutor"
    persistence = airflow["workers"]["persistence"]
    if persistence.get("enabled", True):
        size = persistence.get("size", AIRFLOW_WORKERS_PERSISTENCE_DEFAULT_SIZE)
        assert _gibibytes(size) <= largest, f"{setup}: a {size} task-log volume"


@pytest.mark.parametrize("setup", sorted(SETUPS))
def test_airflow_renders_no_broker_secret(setup: str) -> None:
    airflow = _merged(setup)["airflow"]
    assert "Celery" not in airflow["executor"]
    # The one value that stops templates/secrets/redis-secrets.yaml from rendering AIRFLOW_BROKER_URL_SECRET.
    assert airflow["data"]["brokerUrlSecretName"]
    assert airflow["data"]["brokerUrlSecretName"] != AIRFLOW_BROKER_URL_SECRET
    assert not find(render_objects(SETUPS[setup]), "Secret", airflow["data"]["brokerUrlSecretName"])


def test_celery_without_a_broker_is_refused() -> None:
    with pytest.raises(helm_python.HelmRenderError, match="CeleryExecutor needs a broker"):
        render_objects({"airflow": {"executor": "CeleryExecutor"}})


def _airflow_paths(node: Any, path: str = "") -> list[str]:
    if path and (path.endswith(AIRFLOW_FREE_FORM) or not isinstance(node, dict) or not node):
        return [path]
    return [p for key, value in node.items() for p in _airflow_paths(value, f"{path}.{key}".lstrip("."))]


@pytest.mark.parametrize("setup", sorted(SETUPS))
def test_every_airflow_value_is_a_key_of_the_pinned_airflow_chart(setup: str) -> None:
    airflow = dict(_merged(setup)["airflow"])
    airflow.pop("enabled")  # civiclake's condition on the dependency (Chart.yaml), not an Airflow value
    paths = _airflow_paths(airflow)
    unknown = sorted(p for p in paths if p not in AIRFLOW_1_22_0_KEYS)
    assert not unknown, f"not checked against the Airflow chart {PINNED['airflow']} schema: {unknown}"
    deprecated = sorted(p for p in paths if any(p == d or p.startswith(d + ".") for d in AIRFLOW_DEPRECATED_KEYS))
    assert not deprecated, f"deprecated by the Airflow chart 1.21: {deprecated}"


def test_every_values_file_is_a_setup_here() -> None:
    files = {p.name for p in Path(CHART).glob("values-*.yaml")}
    assert files == {"values-k3s-single-node.yaml", "values-production.yaml"}
