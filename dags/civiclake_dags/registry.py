"""The dataset registry, read on the Airflow side: YAML checked against ``dags/registry.schema.json``.

The schema is generated from civiclake's pydantic model (``python -m civiclake.registry``), so Airflow does not
need civiclake installed and both sides accept exactly the same files. A mistake is an error at DAG parse time
that names the file, the line and the key; defaults come from the schema too, never from a second copy here.

Where the registry comes from, first found wins:
``CIVICLAKE_REGISTRY_YAML`` (the YAML text itself: the chart passes ``registry.inline`` this way),
``CIVICLAKE__REGISTRY__PATH`` (the variable civiclake reads too), then ``datasets.yaml`` beside the DAG files.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from civiclake_dags import schedules

DAGS_FOLDER = Path(__file__).resolve().parents[1]
SCHEMA_FILE = DAGS_FOLDER / "registry.schema.json"
DEFAULT_REGISTRY_FILE = DAGS_FOLDER / "datasets.yaml"
INLINE_VARIABLE = "CIVICLAKE_REGISTRY_YAML"
PATH_VARIABLE = "CIVICLAKE__REGISTRY__PATH"
# libyaml's loader when PyYAML was built with it: a registry of 10,000 datasets loads in a fraction of the time.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class RegistryError(ValueError):
    """The registry cannot be read or does not fit the schema; the message names the line."""


def registry_source(environ: dict[str, str] | None = None) -> tuple[str, str]:
    """(name shown in errors, YAML text) of the registry the DAGs are built from."""
    environ = dict(os.environ) if environ is None else environ
    if environ.get(INLINE_VARIABLE, "").strip():
        return f"${INLINE_VARIABLE}", environ[INLINE_VARIABLE]
    path = Path(environ[PATH_VARIABLE]) if environ.get(PATH_VARIABLE) else DEFAULT_REGISTRY_FILE
    try:
        return str(path), path.read_text(encoding="utf-8")
    except OSError as error:
        raise RegistryError(f"dataset registry {path} cannot be read ({PATH_VARIABLE}): {error}") from None


def load_registry(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The registry as plain data, validated, with every default filled in."""
    name, text = registry_source(environ)
    return _parse_cached(name, text)


@functools.lru_cache(maxsize=8)
def _parse_cached(name: str, text: str) -> dict[str, Any]:
    # Six DAG files read the same registry in one parsing process: parse it once per content.
    return parse_registry(text, name)


def parse_registry(text: str, name: str = "registry") -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise RegistryError(f"{name}{where}: not valid YAML: {error}") from None
    data = {} if data is None else data
    schema = registry_schema()
    validator = jsonschema.Draft202012Validator(schema)
    errors = list(validator.iter_errors(data))
    if errors or _schedule_problems(data, None):
        # Line numbers are only needed to report problems: the node tree is built then, not for every parse (with
        # thousands of datasets it costs as much as the load itself).
        root = yaml.compose(text, Loader=_SAFE_LOADER)
        problems = sorted((_describe(error, root) for error in errors), key=lambda problem: problem[0])
        problems += sorted(_schedule_problems(data, root)) if not problems else []
        raise RegistryError(
            f"dataset registry {name} does not fit {SCHEMA_FILE.name}: "
            + "; ".join(f"line {line}: {message}" for line, message in problems)
        )
    return _with_defaults(copy.deepcopy(data), schema, schema)


def _schedule_problems(data: dict[str, Any], root: yaml.Node | None) -> list[tuple[int, str]]:
    """Cron expressions the schema's pattern lets through but cron refuses (``61 * * * *``)."""
    paths: list[list[Any]] = []
    for section in ("datagouv", "shopstream", "olist", "incidents", "maintenance"):
        if isinstance(data.get(section), dict):
            paths.append([section, "schedule"])
    datagouv = data.get("datagouv") or {}
    for kind in ("datasets", "searches"):
        paths += [["datagouv", kind, index, "schedule"] for index in range(len(datagouv.get(kind) or []))]
    problems = []
    for path in paths:
        value: Any = data
        for part in path:
            value = value.get(part) if isinstance(value, dict) else value[part]
        if value is not None and not schedules.is_valid(value):
            location = ".".join(str(part) for part in path)
            problems.append((_line_of(root, path), f"{location}: {value!r} is not a valid cron expression"))
    return problems


@functools.cache
def registry_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return schema


def _relevant(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """An optional section is ``anyOf: [section, null]``: report what is wrong inside the section, not that the
    whole value fits neither branch."""
    while error.validator == "anyOf" and error.context and "properties" not in error.schema:  # type: ignore[operator]
        inside = [item for item in error.context if not (item.validator == "type" and item.validator_value == "null")]
        if not inside:
            break
        error = jsonschema.exceptions.best_match(inside)  # type: ignore[assignment]
    return error


def _describe(error: jsonschema.ValidationError, root: yaml.Node | None) -> tuple[int, str]:
    error = _relevant(error)
    path = list(error.absolute_path)
    message = error.message
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        # Point at the mistyped key itself, not at the mapping that holds it.
        allowed = set(error.schema.get("properties", {}))  # type: ignore[union-attr]
        unknown = sorted(key for key in error.instance if key not in allowed)
        if unknown:
            path.append(unknown[0])
            message = f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})"
    elif error.validator == "anyOf":
        # The only model-level anyOf: a datagouv search needs a criterion.
        message = "a search needs at least one of query, organization, tags"
    line = _line_of(root, path)
    location = ".".join(str(part) for part in path) or "(top level)"
    return line, f"{location}: {message}"


def _line_of(node: yaml.Node | None, path: list[Any]) -> int:
    """1-based line of the YAML node at ``path``, or of the deepest node that exists on the way."""
    if node is None:
        return 1
    for part in path:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == str(part):
                    # An unknown key has no useful value node: its own line is the one to fix.
                    child = value_node if part != path[-1] else key_node
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node = child
    return int(node.start_mark.line) + 1


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = root["$defs"][name]
    return schema


def _with_defaults(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> Any:
    schema = _resolve(schema, root)
    if "anyOf" in schema and "properties" not in schema:
        # Optional sections are `anyOf: [{$ref: X}, {type: null}]`: fill in the branch the value takes.
        for branch in schema["anyOf"]:
            resolved = _resolve(branch, root)
            if isinstance(value, dict) and "properties" in resolved:
                return _with_defaults(value, resolved, root)
            if isinstance(value, list) and "items" in resolved:
                return _with_defaults(value, resolved, root)
        return value
    if isinstance(value, dict) and "properties" in schema:
        for key, item_schema in schema["properties"].items():
            if key not in value and "default" in item_schema:
                value[key] = copy.deepcopy(item_schema["default"])
            if key in value:
                value[key] = _with_defaults(value[key], item_schema, root)
    elif isinstance(value, list) and "items" in schema:
        return [_with_defaults(item, schema["items"], root) for item in value]
    return value
