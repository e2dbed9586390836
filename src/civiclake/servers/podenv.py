"""A container's environment as Kubernetes would give it, from rendered ConfigMaps and known Secrets.

The launcher runs Trino, the bootstrap and the pipeline with the environment the chart gives their pods, so that a
setting wired wrongly in the chart fails here too. Kubernetes' rules, in order: ``envFrom`` sources, then ``env``
entries (``value`` with ``$(NAME)`` expanded from what is already defined, ``secretKeyRef``, ``configMapKeyRef``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from civiclake.errors import ConfigurationError

_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def container_environment(
    container: Mapping[str, Any],
    config_maps: Mapping[str, Mapping[str, str]],
    secrets: Mapping[str, Mapping[str, str]],
) -> dict[str, str]:
    environment: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            environment.update(_lookup(config_maps, "ConfigMap", source["configMapRef"]["name"]))
        elif "secretRef" in source:
            environment.update(_lookup(secrets, "Secret", source["secretRef"]["name"]))
    for item in container.get("env") or []:
        name = item["name"]
        if "value" in item:
            environment[name] = _expand(str(item["value"]), environment)
            continue
        reference = item.get("valueFrom") or {}
        if "secretKeyRef" in reference:
            key_ref = reference["secretKeyRef"]
            environment[name] = _key(_lookup(secrets, "Secret", key_ref["name"]), "Secret", key_ref)
        elif "configMapKeyRef" in reference:
            key_ref = reference["configMapKeyRef"]
            environment[name] = _key(_lookup(config_maps, "ConfigMap", key_ref["name"]), "ConfigMap", key_ref)
        else:
            raise ConfigurationError(f"environment variable {name}: unsupported source {sorted(reference)}")
    return environment


def _expand(value: str, defined: Mapping[str, str]) -> str:
    # Kubernetes leaves a reference to an undefined variable as it is.
    return _REFERENCE.sub(lambda match: defined.get(match.group(1), match.group(0)), value)


def _lookup(objects: Mapping[str, Mapping[str, str]], kind: str, name: str) -> Mapping[str, str]:
    if name not in objects:
        raise ConfigurationError(f"the pod refers to {kind} {name}, which the chart does not create")
    return objects[name]


def _key(data: Mapping[str, str], kind: str, reference: Mapping[str, str]) -> str:
    if reference["key"] not in data:
        raise ConfigurationError(f"{kind} {reference['name']} has no key {reference['key']}")
    return data[reference["key"]]
