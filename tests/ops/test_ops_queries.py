"""Dashboard and alert queries use only metrics that a worker's registry exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

import zeikan.ops
from zeikan.ops.promql import metric_names_in
from zeikan.streams.observability.metrics import ZeikanMetrics, metric_names

OPS = Path(zeikan.ops.__file__).parent
PROMETHEUS_OWN = {"up"}
"""Series Prometheus itself writes for every scrape target."""


def registry_names() -> set[str]:
    registry = CollectorRegistry()
    ZeikanMetrics.create(registry)
    return metric_names(registry) | PROMETHEUS_OWN


def dashboard_exprs() -> list[tuple[str, str]]:
    dashboard = json.loads((OPS / "grafana" / "dashboard.json").read_text())
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel.get("targets", [])]


def alert_exprs() -> list[tuple[str, str]]:
    rules = yaml.safe_load((OPS / "alerts.yml").read_text())
    return [(rule["alert"], rule["expr"]) for group in rules["groups"] for rule in group["rules"]]


@pytest.mark.parametrize("source", [dashboard_exprs, alert_exprs], ids=["dashboard", "alerts"])
def test_queries_only_use_registered_metrics(source) -> None:
    known = registry_names()
    exprs = source()
    assert exprs
    unknown = {title: sorted(metric_names_in(expr) - known) for title, expr in exprs if metric_names_in(expr) - known}
    assert unknown == {}
    assert all(metric_names_in(expr) for _, expr in exprs), "an expression selects no metric"


def test_the_check_catches_a_misspelt_metric() -> None:
    assert metric_names_in("sum(rate(zeikan_decision_total[5m]))") - registry_names() == {"zeikan_decision_total"}


def test_every_zeikan_metric_is_on_the_dashboard() -> None:
    registry = CollectorRegistry()
    metrics = ZeikanMetrics.create(registry, process_metrics=False)
    families = {family.name for family in registry.collect()}
    shown = " ".join(expr for _, expr in dashboard_exprs())
    assert families and {name for name in families if name not in shown} == set()
    assert metrics.registry is registry


def test_dashboard_uses_the_provisioned_datasource() -> None:
    dashboard = json.loads((OPS / "grafana" / "dashboard.json").read_text())
    datasource = yaml.safe_load((OPS / "grafana" / "datasource.yml").read_text())["datasources"][0]
    uids = {panel["datasource"]["uid"] for panel in dashboard["panels"] if "datasource" in panel}
    assert uids == {datasource["uid"]}
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    provider = yaml.safe_load((OPS / "grafana" / "dashboards.yml").read_text())["providers"][0]
    assert provider["type"] == "file"
