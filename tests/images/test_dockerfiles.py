"""The container images, checked without a container engine: each Dockerfile is parsed and held to what the chart
and the DAGs expect (pinned bases, non-root users with the chart's uids, sources that exist and reach the build
context, entrypoints that the installed packages provide, no build tools in the final stage)."""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "images"
VALUES = yaml.safe_load((REPO / "charts" / "civiclake" / "values.yaml").read_text())
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
NAMES = ("ingest", "dbt", "airflow")
OCI_LABELS = {"title", "description", "version", "licenses", "source"}
BUILD_TOOLS = ("gcc", "g++", "build-essential", "make ", "apt-get install", "pip install", "cargo", "rustc")
# Files each image needs from the build context (beyond whole directories): the build fails without them.
REQUIRED_FILES = {
    "ingest": [
        "pyproject.toml",
        "README.md",
        "src/civiclake/cli/main.py",
        "src/civiclake/demo/datasets.yaml",
        "dags/datasets.yaml",
    ],
    "dbt": [
        "pyproject.toml",
        "src/civiclake/transform/runner.py",
        "dbt/dbt_project.yml",
        "dbt/profiles.yml",
        "dags/datasets.yaml",
    ],
    "airflow": [
        "dags/requirements-airflow.txt",
        "dags/constraints-airflow.txt",
        "dags/datagouv_sync.py",
        "dags/civiclake_dags/factory.py",
        "dags/registry.schema.json",
        "dags/datasets.yaml",
        "dags/pools.json",
        "images/airflow/entrypoint.sh",
        "images/airflow/clean-logs.sh",
    ],
}


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [argument for instruction, argument in self.instructions if instruction == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"no {keyword} in the stage FROM {self.base}"
        return found[-1]


def parse(path: Path) -> list[Stage]:
    """Stages of a Dockerfile: continuation lines joined, comments dropped, FROM's ARG defaults substituted."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    arguments: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        instruction, _, argument = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "ARG" and not stages and "=" in argument:
            name, _, default = argument.partition("=")
            arguments[name.strip()] = default.strip()
        elif instruction == "FROM":
            words = argument.split()
            base = re.sub(r"\$\{(\w+)\}", lambda match: arguments[match.group(1)], words[0])
            stages.append(Stage(base, words[2] if len(words) > 2 and words[1].upper() == "AS" else None))
        else:
            stages[-1].instructions.append((instruction, argument.strip()))
    return stages


def exec_form(argument: str) -> list[str]:
    assert argument.startswith("["), f"use the exec form (JSON list), not the shell form: {argument}"
    return yaml.safe_load(argument)  # type: ignore[no-any-return]


def dockerignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    patterns = []
    for raw in (REPO / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        text = line.lstrip("!").strip("/")
        regex = ""
        index = 0
        while index < len(text):
            if text.startswith("**/", index):
                regex, index = regex + "(?:.*/)?", index + 3
            elif text.startswith("**", index):
                regex, index = regex + ".*", index + 2
            elif text[index] == "*":
                regex, index = regex + "[^/]*", index + 1
            elif text[index] == "?":
                regex, index = regex + "[^/]", index + 1
            else:
                regex, index = regex + re.escape(text[index]), index + 1
        patterns.append((negated, re.compile(regex + "(?:/.*)?")))
    return patterns


def excluded(relative: str) -> bool:
    """Docker's rule: the last pattern that matches the path (or a folder above it) decides."""
    verdict = False
    for negated, pattern in dockerignore_patterns():
        if pattern.fullmatch(relative):
            verdict = not negated
    return verdict


@pytest.fixture(params=NAMES)
def image(request: pytest.FixtureRequest) -> tuple[str, list[Stage]]:
    return request.param, parse(IMAGES / request.param / "Dockerfile")


def test_bases_are_pinned_and_the_venv_moves_between_identical_pythons(image: tuple[str, list[Stage]]) -> None:
    name, stages = image
    assert len(stages) >= 2, f"{name}: multi-stage"
    for stage in stages:
        base = stage.base
        assert "latest" not in base
        assert re.search(r"@sha256:[0-9a-f]{64}$", base) or re.search(r":\d+\.\d+\.\d+[\w.-]*$", base), base
    # The final stage copies a virtualenv made in the build stage: same interpreter, same path.
    assert stages[0].base == stages[-1].base, name
    copies = [argument for argument in stages[-1].all("COPY") if argument.startswith("--from=")]
    assert copies, f"{name}: the final stage takes the build stage's result"


def test_final_stage_has_no_build_tools_and_the_venv_no_pip(image: tuple[str, list[Stage]]) -> None:
    name, stages = image
    for argument in stages[-1].all("RUN"):
        assert not any(tool in argument for tool in BUILD_TOOLS), f"{name}: {argument}"
    assert any("pip uninstall --yes pip" in argument for argument in stages[0].all("RUN")), name


def test_runs_as_the_non_root_user_the_chart_expects(image: tuple[str, list[Stage]]) -> None:
    name, stages = image
    user, _, group = stages[-1].last("USER").partition(":")
    assert user not in ("root", "0") and user.isdigit(), f"{name}: a numeric non-root USER (runAsNonRoot checks it)"
    context = VALUES["airflow"]["securityContexts"]["pod"] if name == "airflow" else VALUES["podSecurityContext"]
    assert (int(user), int(group)) == (context["runAsUser"], context["runAsGroup"]), name
    created = " ".join(stages[-1].all("RUN"))
    assert f"--uid {user}" in created, f"{name}: the user exists in /etc/passwd"


def test_every_copy_source_exists_and_reaches_the_build_context(image: tuple[str, list[Stage]]) -> None:
    name, stages = image
    for stage in stages:
        for argument in stage.all("COPY"):
            words = [word for word in shlex.split(argument) if not word.startswith("--")]
            if argument.startswith("--from="):
                continue
            for source in words[:-1]:
                assert (REPO / source).exists(), f"{name}: COPY {source}: no such file in the repository"
                assert not excluded(source), f"{name}: COPY {source} is excluded by .dockerignore"
    for required in REQUIRED_FILES[name]:
        assert (REPO / required).is_file() and not excluded(required), f"{name}: {required}"


def test_junk_stays_out_of_the_build_context() -> None:
    for path in (
        ".venv/bin/python",
        ".venv-airflow/bin/airflow",
        ".git/HEAD",
        "tests/conftest.py",
        ".civiclake/catalog.db",
    ):
        assert excluded(path), path
    assert not excluded("src/civiclake/__init__.py")


def test_entrypoints_and_healthchecks_are_provided_by_what_the_image_installs(image: tuple[str, list[Stage]]) -> None:
    name, stages = image
    final, build = stages[-1], stages[0]
    entrypoint = exec_form(final.last("ENTRYPOINT"))
    health = final.last("HEALTHCHECK")
    health_command = exec_form(health[health.index("CMD") + 3 :].strip())
    installs = " ".join(build.all("RUN"))
    if name == "ingest":
        assert entrypoint == ["civiclake"] and health_command[0] == "civiclake"
        assert "civiclake" in PYPROJECT["project"]["scripts"]
        assert "pip install ." in installs
    elif name == "dbt":
        assert entrypoint == ["dbt"] and health_command[0] == "dbt"
        assert '".[transform]"' in installs
        transform = PYPROJECT["project"]["optional-dependencies"]["transform"]
        assert any(requirement.startswith(("dbt-core==", "dbt-trino==")) for requirement in transform)
        assert {"dbt-core", "dbt-trino"} <= {re.split(r"[=<>!~\[]", item)[0] for item in transform}
        # The DAGs run `civiclake transform|source-freshness|maintain` in this image, and the chart `dbt build`.
        assert "civiclake" in PYPROJECT["project"]["scripts"]
        environment = " ".join(final.all("ENV"))
        assert "CIVICLAKE__TRANSFORM__PROJECT_DIR=/opt/civiclake/dbt" in environment
        assert "DBT_TARGET_PATH=/var/lib/civiclake" in environment
    else:
        script = REPO / "images" / "airflow" / "entrypoint.sh"
        assert entrypoint == ["/usr/local/bin/civiclake-airflow-entrypoint"]
        assert os.access(script, os.X_OK) and script.read_text().startswith("#!/usr/bin/env bash")
        assert health_command[0] == "airflow" and exec_form(final.last("CMD"))[0] == "airflow"
        # What the Apache Airflow chart runs in this image besides `airflow`: its log groomer sidecars.
        assert "images/airflow/clean-logs.sh /clean-logs" in final.all("COPY")
        assert os.access(REPO / "images" / "airflow" / "clean-logs.sh", os.X_OK)
        pins = (REPO / "dags" / "requirements-airflow.txt").read_text()
        assert f"apache-airflow=={VALUES['airflow']['airflowVersion']}" in pins.splitlines()
        assert "apache-airflow-providers-cncf-kubernetes==10." in pins
        assert "-c /build/constraints-airflow.txt" in installs


def test_labels_and_the_chart_agree_on_names_and_versions(image: tuple[str, list[Stage]]) -> None:
    name, stages = image
    labels = " ".join(stages[-1].all("LABEL"))
    for label in OCI_LABELS:
        assert f"org.opencontainers.image.{label}=" in labels, f"{name}: {label}"
    version = PYPROJECT["project"]["version"]
    assert f"ARG VERSION={version}" in f"ARG {' '.join(stages[-1].all('ARG'))}", name
    repository = (
        VALUES["airflow"]["defaultAirflowRepository"] if name == "airflow" else VALUES["images"][name]["repository"]
    )
    assert repository == f"ghcr.io/civiclake/{name}"
    assert f"-t {repository}:{version}" in (REPO / "images" / "README.md").read_text()
