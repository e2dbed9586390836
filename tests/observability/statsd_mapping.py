"""Apply the statsd-exporter mapping to StatsD lines, as statsd-exporter would (no statsd-exporter in Debian 12).

Only what the mapping uses: glob matches (``*`` is one dot-separated part), ``$n`` labels, counters, gauges and
timers observed into histograms with the mapping's default buckets; regex ``drop`` rules drop the rest.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class StatsdExporterStandIn:
    def __init__(self, mapping_file: Path, registry: CollectorRegistry) -> None:
        config = yaml.safe_load(mapping_file.read_text())
        self.buckets = config["defaults"]["histogram_options"]["buckets"]
        self.rules = []
        for rule in config["mappings"]:
            if rule.get("match_type") == "regex":
                pattern = re.compile(rule["match"])
            else:
                pattern = re.compile("^" + re.escape(rule["match"]).replace(r"\*", "([^.]+)") + "$")
            self.rules.append((pattern, rule))
        self.registry = registry
        self.metrics: dict[str, Counter | Gauge | Histogram] = {}

    def names(self) -> set[str]:
        return {rule["name"] for _, rule in self.rules if rule.get("action") != "drop"}

    def receive(self, line: str) -> None:
        name, _, rest = line.partition(":")
        value, kind = rest.split("|")[:2]
        for pattern, rule in self.rules:
            found = pattern.search(name)
            if not found:
                continue
            if rule.get("action") == "drop":
                return
            labels = {
                key: found.expand(template.replace("$", "\\")) for key, template in rule.get("labels", {}).items()
            }
            self._record(rule["name"], kind, float(value), labels)
            return

    def _record(self, name: str, kind: str, value: float, labels: dict[str, str]) -> None:
        names = sorted(labels)
        if name not in self.metrics:
            if kind == "c":
                self.metrics[name] = Counter(name.removesuffix("_total"), name, names, registry=self.registry)
            elif kind == "g":
                self.metrics[name] = Gauge(name, name, names, registry=self.registry)
            else:
                self.metrics[name] = Histogram(name, name, names, buckets=self.buckets, registry=self.registry)
        metric = self.metrics[name]
        child = metric.labels(**labels) if names else metric
        if kind == "c":
            child.inc(value)  # type: ignore[union-attr]
        elif kind == "g":
            child.set(value)  # type: ignore[union-attr]
        else:
            child.observe(value / 1000)  # type: ignore[union-attr]
