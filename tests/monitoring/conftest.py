"""Helpers of the monitoring tests: scrape /metrics with prometheus-client's own parser."""

from __future__ import annotations

from collections.abc import Iterator
from http import HTTPStatus

import pytest
from prometheus_client.parser import text_string_to_metric_families

from breeze import telemetry


@pytest.fixture(autouse=True)
def _fresh_metrics() -> Iterator[None]:
    """Each test starts with an empty roll-up (Prometheus counters only grow: tests compare
    before and after)."""
    telemetry.set_enabled(None)
    telemetry.reset()
    yield
    telemetry.set_enabled(None)
    telemetry.reset()


class Scrape:
    """One parsed exposition: samples by name, each ``(labels, value)``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.families = {family.name: family for family in text_string_to_metric_families(text)}
        self.samples: dict[str, list[tuple[dict[str, str], float]]] = {}
        for family in self.families.values():
            for sample in family.samples:
                self.samples.setdefault(sample.name, []).append((sample.labels, sample.value))

    def value(self, name: str, **labels: str) -> float:
        """The sum of ``name``'s samples whose labels include ``labels`` (0 when none)."""
        return sum(
            value
            for found, value in self.samples.get(name, [])
            if all(found.get(k) == v for k, v in labels.items())
        )

    def label_values(self, name: str, label: str) -> set[str]:
        return {found[label] for found, _ in self.samples.get(name, []) if label in found}


def scrape_text(text: str) -> Scrape:
    return Scrape(text)


@pytest.fixture
def scrape(client):
    """``scrape(**headers)``: GET /metrics through the whole stack, parsed."""

    def run(**headers: str) -> Scrape:
        response = client.get("/metrics", **headers)
        assert response.status_code == HTTPStatus.OK, response.content
        assert response["Content-Type"].startswith("text/plain; version=0.0.4")
        return Scrape(response.content.decode())

    return run
