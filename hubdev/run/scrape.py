"""Read counters from the services' own ``/metrics`` (Prometheus text) for the live view."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families

Samples = Mapping[str, Mapping[tuple[tuple[str, str], ...], float]]


def parse(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """sample name -> {sorted label pairs -> value}."""
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[sample.name][tuple(sorted(sample.labels.items()))] = float(sample.value)
    return out


def total(samples: Samples, name: str) -> float:
    return sum(samples.get(name, {}).values())


def by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    result: dict[str, float] = defaultdict(float)
    for labels, value in samples.get(name, {}).items():
        result[dict(labels).get(label, "")] += value
    return dict(result)
