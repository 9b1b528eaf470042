"""The alerting rules and the Grafana dashboard, as files: they parse, they cover what the
issue asks to be alerted on, and every metric they name is one /metrics exports. With
promtool installed (Debian's prometheus, which .ci/run installs) the rules are also checked
and unit-tested by Prometheus itself."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "monitoring" / "alerts" / "breeze-proxy.rules.yml"
RULE_TESTS = REPO / "monitoring" / "alerts" / "breeze-proxy.rules.test.yml"
DASHBOARD = REPO / "monitoring" / "dashboards" / "breeze-proxy.json"
METRIC = re.compile(r"\b(breeze_[a-z0-9_]+)\b")
REQUIRED_ALERTS = {
    "BreezeSessionExpiringSoon",
    "BreezeSessionExpired",
    "BreezeBudgetHigh",
    "BreezeBreakerOpen",
    "BreezeStreamStale",
    "BreezeHigh5xxRate",
    "BreezeInstrumentsMasterStale",
}
SUFFIXES = {"_total": "counter", "_bucket": "histogram", "_sum": "histogram", "_count": "histogram"}


def _rules() -> list[dict]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_the_rules_parse_and_cover_the_required_alerts():
    rules = _rules()

    assert {rule["alert"] for rule in rules} == REQUIRED_ALERTS
    for rule in rules:
        assert rule["expr"].strip()
        assert re.fullmatch(r"\d+[smh]", rule["for"])
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]


def test_the_budget_alert_fires_past_80_percent_for_5_minutes():
    rule = next(rule for rule in _rules() if rule["alert"] == "BreezeBudgetHigh")

    assert "> 0.8" in rule["expr"]
    assert rule["for"] == "5m"


def test_the_session_alerts_watch_market_hours_and_30_minutes():
    soon = next(rule for rule in _rules() if rule["alert"] == "BreezeSessionExpiringSoon")
    gone = next(rule for rule in _rules() if rule["alert"] == "BreezeSessionExpired")

    assert "< 1800" in soon["expr"]
    assert "breeze_market_open" in soon["expr"]
    assert "breeze_session_active) == 0" in gone["expr"]


def test_the_dashboard_parses_and_every_panel_queries_prometheus():
    dashboard = json.loads(DASHBOARD.read_text())

    assert dashboard["uid"] == "breeze-proxy"
    assert dashboard["panels"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}"
        assert panel["targets"], panel["title"]


def _exported_family(name: str, families: dict) -> bool:
    if name in families:
        return True
    for suffix, kind in SUFFIXES.items():
        if name.endswith(suffix):
            family = families.get(name[: -len(suffix)])
            if family is not None and family.type == kind:
                return True
    return False


def test_every_metric_the_rules_and_dashboard_name_is_exported(api, live_session, master, scrape):
    """Scrape after some traffic and parse with prometheus-client's parser."""
    for code in ("RELIND", "RELIND", "TCS"):
        api.post("/breeze/quotes", {"stock_code": code}, format="json")
    metrics = scrape()
    named = {m for rule in _rules() for m in METRIC.findall(rule["expr"])}
    named |= {m for expr in _dashboard_exprs() for m in METRIC.findall(expr)}

    missing = sorted(name for name in named if not _exported_family(name, metrics.families))

    assert not missing, f"named but not exported: {missing}"
    assert len(named) > 15


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_checks_the_rules():
    result = subprocess.run(
        ["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(REQUIRED_ALERTS)} rules found" in result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_the_rules_fire_as_their_unit_tests_say():
    result = subprocess.run(
        ["promtool", "test", "rules", RULE_TESTS.name],
        cwd=RULE_TESTS.parent,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
