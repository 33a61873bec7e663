"""The Grafana dashboard: built from code, shipped as built, queries only over exported metrics."""

from __future__ import annotations

import re
from pathlib import Path

from kianax_capacity.outputs.grafana import (
    DASHBOARD_FILE,
    PANELS,
    VARIABLE_REFERENCE,
    dashboard_json,
    dashboard_queries,
    render_dashboard,
)
from kianax_capacity.outputs.metrics_export import METRICS

REPO = Path(__file__).resolve().parents[2]


def test_committed_dashboards_equal_a_fresh_build() -> None:
    """scripts/make_dashboard.py is the source: a hand edit of the JSON would be lost."""
    fresh = render_dashboard()
    for path in (REPO / "kianax_capacity" / "data", REPO / "docs" / "examples"):
        assert (path / DASHBOARD_FILE).read_text() == fresh, (
            f"{path / DASHBOARD_FILE} is stale: run python scripts/make_dashboard.py"
        )


def test_every_panel_spec_is_in_the_shipped_json_with_its_queries() -> None:
    shipped = dashboard_queries(dashboard_json())
    expected = [(panel.title, query.expr) for panel in PANELS for query in panel.queries]
    assert shipped == expected
    titles = {panel.title for panel in PANELS}
    for wanted in (
        "Savings on offer over time, by section",
        "Top right-sizing changes",
        "Node-group cost: current and recommended",
        "Capacity forecast: days until exhausted",
        "HPA saturation: minutes per week at maxReplicas",
    ):
        assert wanted in titles


def test_variables_are_cluster_and_namespace_and_every_query_uses_cluster() -> None:
    variables = {v["name"]: v for v in dashboard_json()["templating"]["list"]}
    assert set(variables) == {"datasource", "cluster", "namespace"}
    assert variables["cluster"]["multi"] and variables["cluster"]["includeAll"]
    assert variables["namespace"]["allValue"] == ".*"
    for title, expr in dashboard_queries(dashboard_json()):
        assert set(VARIABLE_REFERENCE.findall(expr)) <= {"cluster", "namespace"}, title
        assert 'cluster=~"$cluster"' in expr, title


def test_queries_name_only_metrics_the_export_writes() -> None:
    exported = {spec.full_name for spec in METRICS}
    used = {
        name
        for _, expr in dashboard_queries(dashboard_json())
        for name in re.findall(r"kianax_capacity_\w+", expr)
    }
    assert used
    assert used <= exported, used - exported


def test_panels_use_the_datasource_variable() -> None:
    for panel in dashboard_json()["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["description"]
