"""Reading /metrics the way Prometheus does: prometheus-client's own parser over the text format."""

from __future__ import annotations

import json

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the exposition, by name and labels."""
    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels` (0 when there is none)."""
    wanted = set(labels.items())
    return sum(v for (n, sample_labels), v in samples(text).items() if n == name and wanted <= sample_labels)


def json_lines(text: str) -> list[dict]:
    """The log lines that are JSON objects (gunicorn's own start-up lines are plain text)."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def grew(before: str, after: str, name: str, **labels: str) -> float:
    """How much the samples `value` sums went up between two scrapes."""
    return value(after, name, **labels) - value(before, name, **labels)
