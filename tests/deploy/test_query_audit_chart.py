"""The query audit as the chart renders it: Trino's HTTP event listener pointed at the receiver's Service, the
receiver's Deployment with the pipeline's lake settings, its network policy, and the retention setting."""

from __future__ import annotations

from typing import Any

from civiclake.servers import chart
from civiclake.servers.stack import listener_posting_to

from .conftest import SCENARIOS, find, one, render_objects, rendered_scenario

RECEIVER = "civiclake-audit-receiver"


def listener_properties(values: dict[str, Any]) -> dict[str, str]:
    return dict(line.split("=", 1) for line in values["trino"]["eventListenerProperties"])


def test_trinos_http_event_listener_posts_completed_queries_to_the_receivers_service(
    chart_values: dict[str, Any],
) -> None:
    properties = listener_properties(chart_values)
    assert properties["event-listener.name"] == "http"
    assert properties["http-event-listener.log-completed"] == "true"
    service = one(rendered_scenario("default"), "Service", RECEIVER)
    [port] = service["spec"]["ports"]
    assert properties["http-event-listener.connect-ingest-uri"] == f"http://{RECEIVER}:{port['port']}/"


def test_the_receiver_runs_civiclake_audit_receive_with_the_pipelines_lake_settings() -> None:
    objects = rendered_scenario("default")
    deployment = one(objects, "Deployment", RECEIVER)
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["civiclake"]
    assert container["args"][:2] == ["audit", "receive"]
    assert container["image"].startswith("ghcr.io/civiclake/ingest")
    assert container["envFrom"] == [{"configMapRef": {"name": "civiclake-pipeline-env"}}]
    assert {env["name"] for env in container["env"]} >= {
        "CIVICLAKE__S3__ACCESS_KEY_ID",
        "CIVICLAKE__S3__SECRET_ACCESS_KEY",
    }
    assert container["readinessProbe"]["httpGet"]["port"] == "http"
    service = one(objects, "Service", RECEIVER)
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_only_trino_reaches_the_receiver_and_the_receiver_reaches_only_the_lake() -> None:
    objects = rendered_scenario("default")
    policy = one(objects, "NetworkPolicy", RECEIVER)
    [ingress] = policy["spec"]["ingress"]
    assert [peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for peer in ingress["from"]] == ["trino"]
    assert ingress["ports"] == [{"protocol": "TCP", "port": 8090}]
    [egress] = policy["spec"]["egress"]
    assert egress["to"][0]["podSelector"]["matchLabels"] == {"app": "minio", "release": "civiclake"}
    trino_egress = one(objects, "NetworkPolicy", "civiclake-trino")["spec"]["egress"]
    assert any(
        rule["to"][0]["podSelector"]["matchLabels"].get("app.kubernetes.io/component") == "audit-receiver"
        for rule in trino_egress
    )
    minio_from = one(objects, "NetworkPolicy", "civiclake-minio")["spec"]["ingress"][0]["from"]
    assert any(
        peer["podSelector"]["matchLabels"].get("app.kubernetes.io/component") == "audit-receiver" for peer in minio_from
    )


def test_the_retention_reaches_the_pipeline_pods_settings() -> None:
    default = one(rendered_scenario("default"), "ConfigMap", "civiclake-pipeline-env")["data"]
    assert default["CIVICLAKE__AUDIT__RETENTION_DAYS"] == "365"
    shorter = one(render_objects({"audit": {"retentionDays": 30}}), "ConfigMap", "civiclake-pipeline-env")["data"]
    assert shorter["CIVICLAKE__AUDIT__RETENTION_DAYS"] == "30"


def test_no_receiver_without_trino_or_when_turned_off() -> None:
    assert not [o for o in rendered_scenario("all-external") if o["metadata"]["name"] == RECEIVER]
    off = render_objects({"audit": {"receiver": {"enabled": False}}})
    assert not [o for o in off if o["metadata"]["name"] == RECEIVER]
    trino_egress = one(off, "NetworkPolicy", "civiclake-trino")["spec"]["egress"]
    assert not any(
        (rule["to"][0].get("podSelector") or {}).get("matchLabels", {}).get("app.kubernetes.io/component")
        == "audit-receiver"
        for rule in trino_egress
    )
    assert find(off, "Deployment", "civiclake-audit-receiver") == []


def test_the_launcher_gives_its_trino_the_charts_listener_pointed_at_its_own_receiver() -> None:
    files = chart.trino_coordinator_files(render_objects(SCENARIOS["default"]))
    text = listener_posting_to(files["event-listener.properties"], "http://127.0.0.1:4321/")
    lines = text.splitlines()
    assert "http-event-listener.connect-ingest-uri=http://127.0.0.1:4321/" in lines
    assert "event-listener.name=http" in lines
    assert not any(RECEIVER in line for line in lines)
