"""docs/grafana-dashboard.json parses, and its panels query only metrics the service exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

import games.metrics  # noqa: F401  (registers every gameserver metric)

DASHBOARD = Path(__file__).resolve().parent.parent / "docs" / "grafana-dashboard.json"
METRIC_NAME = re.compile(r"gameserver_[a-z_]+")

# The sample names prometheus_client writes for a family of each type (`_created` is off:
# games.metrics calls disable_created_metrics()).
SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "summary": ("", "_sum", "_count"),
    "info": ("_info",),
}


def exported_names() -> set[str]:
    """Every sample name the registry can produce, including labelled metrics not yet touched."""
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def all_panels(panels: list[dict]) -> list[dict]:
    """Panels, including those nested in collapsed rows."""
    found = []
    for panel in panels:
        found.append(panel)
        found.extend(all_panels(panel.get("panels", [])))
    return found


def load() -> dict:
    return json.loads(DASHBOARD.read_text())


def exprs(dashboard: dict) -> list[str]:
    return [
        target["expr"]
        for panel in all_panels(dashboard["panels"])
        for target in panel.get("targets", [])
        if "expr" in target
    ]


def unknown_metrics(expressions: list[str], names: set[str]) -> set[str]:
    return {name for expr in expressions for name in METRIC_NAME.findall(expr)} - names


def test_dashboard_has_titled_panels_with_queries():
    dashboard = load()
    assert dashboard["title"]
    assert dashboard["schemaVersion"] >= 39
    panels = [p for p in all_panels(dashboard["panels"]) if p.get("type") != "row"]
    assert len(panels) >= 9
    titles = [panel.get("title") for panel in panels]
    assert all(titles), titles
    assert len(set(titles)) == len(titles), titles
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert METRIC_NAME.search(target["expr"]), (panel["title"], target["expr"])
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"


def test_every_metric_in_the_dashboard_is_exported():
    names = exported_names()
    assert {
        "gameserver_connections_open",
        "gameserver_matches",
        "gameserver_closes_total",
        "gameserver_tick_work_seconds_bucket",
    } <= names
    assert unknown_metrics(exprs(load()), names) == set()


def test_a_panel_naming_a_missing_metric_is_caught():
    names = exported_names()
    assert unknown_metrics(["sum(rate(gameserver_frames_sent_total[5m]))"], names) == set()
    assert unknown_metrics(
        ["sum(rate(gameserver_frames_dropped_total[5m]))", "sum(gameserver_frames_sent)"], names
    ) == {"gameserver_frames_dropped_total", "gameserver_frames_sent"}
