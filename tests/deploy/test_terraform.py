"""Static checks of terraform/: formatting, typed and documented variables, pinned providers, and a module that
hands the chart values its schema accepts.

The helm and kubernetes providers cannot be downloaded on these machines, so `terraform validate` cannot run;
`terraform fmt` can, and python-hcl2 parses the configuration for the rest.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import jsonschema
import pytest
import yaml

from .conftest import CHART, REPO, deep_merge, render_objects

TERRAFORM = REPO / "terraform"
MODULE = TERRAFORM / "modules" / "civiclake"
ENV = TERRAFORM / "envs" / "k3s-single-node"
ROOTS = [MODULE, ENV]


def unquote(value: Any) -> Any:
    """python-hcl2 keeps HCL string quotes ('"text"'); drop them."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def parse(root: Path) -> dict[str, list[Any]]:
    merged: dict[str, list[Any]] = {}
    for path in sorted(root.glob("*.tf")):
        with path.open() as handle:
            for block, items in hcl2.load(handle).items():
                merged.setdefault(block, []).extend(items)
    return merged


def blocks(parsed: dict[str, list[Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {unquote(name): body for item in parsed.get(kind, []) for name, body in item.items()}


def test_terraform_fmt_is_clean(tmp_path: Path) -> None:
    config = tmp_path / "terraformrc"
    config.write_text("")
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CLI_CONFIG_FILE": str(config), "CHECKPOINT_DISABLE": "1"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("root", ROOTS, ids=lambda p: p.relative_to(TERRAFORM).as_posix())
def test_every_variable_is_typed_described_and_used(root: Path) -> None:
    variables = blocks(parse(root), "variable")
    assert variables
    sources = "\n".join(p.read_text() for p in root.glob("*.tf"))
    for name, body in variables.items():
        assert body.get("type"), f"variable {name} has no type"
        assert unquote(body.get("description", "")).strip(), f"variable {name} has no description"
        assert re.search(rf"\bvar\.{name}\b", sources), f"variable {name} is never used"


@pytest.mark.parametrize("root", ROOTS, ids=lambda p: p.relative_to(TERRAFORM).as_posix())
def test_terraform_and_providers_are_pinned(root: Path) -> None:
    (settings,) = parse(root)["terraform"]
    assert unquote(settings["required_version"]).startswith(">= 1.11")
    (providers,) = settings["required_providers"]
    providers = {k: v for k, v in providers.items() if not k.startswith("__")}
    assert {"helm", "kubernetes"} <= set(providers)
    for name, spec in providers.items():
        assert unquote(spec["source"]) == f"hashicorp/{name}"
        assert re.fullmatch(r"= \d+\.\d+\.\d+", unquote(spec["version"])), f"{name} is not pinned exactly"


def test_outputs_are_described() -> None:
    for root in ROOTS:
        for name, body in blocks(parse(root), "output").items():
            assert unquote(body.get("description", "")).strip(), f"output {name} in {root.name} has no description"
    endpoints = blocks(parse(MODULE), "output")["endpoints"]["value"]
    assert {"trino", "s3", "catalog_jdbc", "airflow_api", "prometheus", "pushgateway", "grafana"} <= set(endpoints)


def test_module_creates_the_secrets_the_chart_reads(chart_values: dict[str, Any]) -> None:
    module = parse(MODULE)
    (local_blocks,) = [item for item in module["locals"] if "secret_names" in item]
    names = {k: unquote(v) for k, v in local_blocks["secret_names"].items()}
    assert names["s3"] == chart_values["s3"]["existingSecret"] == chart_values["minio"]["existingSecret"]
    assert names["postgresql"] == chart_values["catalog"]["existingSecret"]
    assert names["airflow_metadata"] == chart_values["airflow"]["data"]["metadataSecretName"]
    assert names["airflow_keys"] == chart_values["airflow"]["fernetKeySecretName"]
    assert names["grafana_admin"] == chart_values["grafana"]["admin"]["existingSecret"]

    keys = {
        unquote(name): {unquote(key) for key in body["data"]}
        for item in module["resource"]
        for kind, named in item.items()
        if unquote(kind) == "kubernetes_secret_v1"
        for name, body in named.items()
    }
    assert keys["s3"] == {chart_values["s3"]["accessKeyIdKey"], chart_values["s3"]["secretAccessKeyKey"]}
    assert keys["postgresql"] == {
        "postgres-password",
        chart_values["catalog"]["passwordKey"],
        chart_values["airflowDatabase"]["passwordKey"],
    }
    assert keys["airflow_metadata"] == {"connection"}
    assert keys["airflow_keys"] == {"fernet-key", "api-secret-key", "jwt-secret"}
    admin = chart_values["grafana"]["admin"]
    assert keys["grafana_admin"] == {admin["userKey"], admin["passwordKey"]}


def _render_module_values(variables: dict[str, Any]) -> dict[str, Any]:
    """values.yaml.tftpl rendered as Terraform's templatefile() would (it only uses ${jsonencode(name)})."""
    template = (MODULE / "values.yaml.tftpl").read_text()
    assert set(re.findall(r"\$\{(.*?)\}", template)) == {f"jsonencode({n})" for n in variables}
    text = re.sub(r"\$\{jsonencode\((\w+)\)\}", lambda m: json.dumps(variables[m.group(1)]), template)
    return yaml.safe_load(text)


def test_module_passes_values_the_chart_schema_accepts(values_schema: dict[str, Any]) -> None:
    module = parse(MODULE)
    variables = blocks(module, "variable")
    (local_blocks,) = [item for item in module["locals"] if "module_values" in item]
    passed = re.findall(r"(\w+)\s*=", local_blocks["module_values"].split("{", 1)[1])
    defaults = {name: unquote(body["default"]) for name, body in variables.items() if "default" in body}
    sample = {
        "lake_bucket": defaults["lake_bucket"],
        "catalog_name": defaults["catalog_name"],
        "pipeline_max_active_tasks": defaults["pipeline_max_active_tasks"],
        "s3_secret_name": "civiclake-s3-credentials",
        "postgresql_secret_name": "civiclake-pg-credentials",
    }
    assert set(passed) == set(sample), "module_values passes other variables than the test renders"
    module_values = _render_module_values(sample)

    chart_defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    k3s = yaml.safe_load((CHART / "values-k3s-single-node.yaml").read_text())
    jsonschema.Draft7Validator(values_schema).validate(deep_merge(deep_merge(chart_defaults, module_values), k3s))
    objects = render_objects(deep_merge(module_values, k3s))
    env = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "civiclake-pipeline-env")
    assert env["data"]["CIVICLAKE__S3__BUCKET"] == sample["lake_bucket"]


def test_example_environment_uses_the_module_with_the_k3s_values() -> None:
    env = parse(ENV)
    (module,) = blocks(env, "module").values()
    assert unquote(module["source"]) == "../../modules/civiclake"
    assert any("values-k3s-single-node.yaml" in unquote(v) for v in module["values_files"])
    assert (CHART / "values-k3s-single-node.yaml").is_file()
    required = {name for name, body in blocks(parse(MODULE), "variable").items() if "default" not in body}
    assert required <= set(module), f"the example leaves {required - set(module)} unset"
    providers = {next(iter(p)) for p in env["provider"]}
    assert {unquote(p) for p in providers} == {"kubernetes", "helm"}
