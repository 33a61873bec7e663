"""Forecasts on the embedded demo cluster."""

from __future__ import annotations

from datetime import date

from kianax_capacity.prices import embedded_catalog
from kianax_capacity.recommend.forecast import forecast_series, recommend_forecast
from kianax_capacity.recommendations import RecommendationSet, validate_recommendations_json
from kianax_capacity.snapshot import Snapshot

CATALOG = embedded_catalog("us-east-1")


def test_four_days_of_demo_is_insufficient_data(demo_snapshot: Snapshot) -> None:
    rows = recommend_forecast(demo_snapshot, CATALOG)
    assert rows
    assert {r.status for r in rows} == {"insufficient_data"}


def test_three_weeks_of_demo_forecast_every_group(demo_snapshot_full: Snapshot) -> None:
    rows = recommend_forecast(demo_snapshot_full, CATALOG, max_nodes={"general-ng": 5})
    groups = {r.scope for r in rows if r.extra["scope_type"] == "nodegroup"}
    assert groups == {"general-ng", "system-ng", "jobs-ng"}
    end = demo_snapshot_full.window[1].date()
    for row in rows:
        assert row.status == "ok", (row.key, row.extra["reason"])
        assert row.extra["reason"]
        if row.exhausted_on is not None:
            assert (date.fromisoformat(row.exhausted_on) - end).days <= 90
        elif row.extra["scope_type"] == "nodegroup":
            assert "not within 90 days" in str(row.extra["reason"])
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
