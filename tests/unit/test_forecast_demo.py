"""Forecasts on the embedded demo cluster."""

from __future__ import annotations

from datetime import date

from kianax_capacity.prices import embedded_catalog
from kianax_capacity.recommendations import RecommendationSet, validate_recommendations_json
from kianax_capacity.recommenders.forecast import forecast_series, recommend_forecast
from kianax_capacity.snapshot import Snapshot

CATALOG = embedded_catalog("us-east-1")


def test_four_days_of_demo_is_insufficient_data(demo_snapshot: Snapshot) -> None:
    rows = recommend_forecast(demo_snapshot, CATALOG)
    assert rows
    assert {r.status for r in rows} == {"insufficient_data"}


def test_three_weeks_of_demo_forecast_every_group(demo_snapshot_full: Snapshot) -> None:
    # general-ng holds 6 nodes at most: 5 autoscaled plus ledger-service's own (docs/demo-cluster.md).
    rows = recommend_forecast(demo_snapshot_full, CATALOG, max_nodes={"general-ng": 6})
    groups = {r.scope for r in rows if r.extra["scope_type"] == "nodegroup"}
    assert groups == {"general-ng", "system-ng", "jobs-ng"}
    namespaces = {r.scope for r in rows if r.extra["scope_type"] == "namespace"}
    assert "kianax" in namespaces, namespaces
    end = demo_snapshot_full.window[1].date()
    for row in rows:
        assert row.status == "ok", (row.key, row.extra["reason"])
    # The demo's market hours fill general-ng's CPU at its configured max (docs/demo-cluster.md);
    # nothing else runs out within the horizon, and a namespace has no capacity to run out of.
    exhausted = {(r.scope, r.resource): r for r in rows if r.exhausted_on is not None}
    assert set(exhausted) == {("general-ng", "cpu")}
    assert (date.fromisoformat(exhausted["general-ng", "cpu"].exhausted_on or "") - end).days <= 0
    assert "already at capacity" in str(exhausted["general-ng", "cpu"].extra["reason"])
    others = [r for r in rows if (r.scope, r.resource) not in exhausted]
    by_type = {
        kind: [r for r in others if r.extra["scope_type"] == kind]
        for kind in ("nodegroup", "namespace")
    }
    # Both kinds of row are there to check (8 node-group and every namespace's resources).
    assert len(by_type["nodegroup"]) == 3 * 3 - 1 and by_type["namespace"], by_type
    assert len(others) == len(rows) - 1
    for kind, expected in (("nodegroup", "not within 90 days"), ("namespace", "trend only")):
        for row in by_type[kind]:
            assert expected in str(row.extra["reason"]), (row.key, row.extra["reason"])
    general = {r.resource: r for r in rows if r.scope == "general-ng"}
    assert general["cpu"].extra["capacity_source"] == "config max_size"
    start, stop = demo_snapshot_full.window
    recs = RecommendationSet(
        cluster=demo_snapshot_full.cluster,
        generated_at=stop,
        window_start=start,
        window_end=stop,
        step_seconds=demo_snapshot_full.step_seconds,
        forecast=rows,
    )
    validate_recommendations_json(recs.to_json())
    chart = forecast_series(demo_snapshot_full, CATALOG, scope="kianax", resource="memory")
    assert chart["actual"].notna().sum() >= 19
    assert chart["capacity"].isna().all()
