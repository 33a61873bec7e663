"""Chart builders and frames: pure, unit-labelled, and honest about empty inputs."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import plotly.graph_objects as go
import pytest

import kianax_capacity as kc
from kianax_capacity.outputs import charts, palette, tables, frames
from kianax_capacity.recommendations import HpaSettings, RecommendationSet


def _empty_set() -> RecommendationSet:
    moment = datetime(2026, 11, 23, tzinfo=UTC)
    return RecommendationSet(
        cluster="c", generated_at=moment, window_start=moment, window_end=moment, step_seconds=300
    )


@pytest.mark.parametrize(
    "figure",
    [
        lambda: charts.cost_over_time(None),
        lambda: charts.cost_over_time(
            pd.DataFrame(columns=["day", "node_group", "namespace", "cost_usd"])
        ),
        lambda: charts.cost_by_group(pd.DataFrame(), "namespace", "t"),
        lambda: charts.requested_vs_used(pd.DataFrame()),
        lambda: charts.usage_distribution(pd.Series(dtype=float), {}),
        lambda: charts.hpa_replicas(pd.DataFrame(), HpaSettings(2, 10)),
        lambda: charts.node_packing(None),
        lambda: charts.capacity_forecast(pd.DataFrame()),
    ],
)
def test_empty_inputs_give_a_note_not_an_error(figure) -> None:  # type: ignore[no-untyped-def]
    fig = figure()
    assert isinstance(fig, go.Figure)
    assert len(fig.data) == 0
    assert "no" in fig.layout.annotations[0].text.lower()


def test_empty_recommendations_give_empty_tables() -> None:
    recs = _empty_set()
    assert tables.top_actions(recs).empty
    for frame in (tables.rightsizing_table(recs), tables.hpa_table(recs), tables.spot_table(recs)):
        assert frame.empty
    assert frames.change_table(None, recs) is None


def test_daily_cost_chart_stacks_namespaces_with_fixed_colours_and_drops_the_empty_end_day() -> (
    None
):
    day1, day2, day3 = (pd.Timestamp(f"2026-11-{d}", tz="UTC") for d in (21, 22, 23))
    daily = pd.DataFrame(
        {
            "day": [day1, day1, day2, day2, day3],
            "node_group": ["general-ng"] * 5,
            "namespace": ["kianax", "(idle)", "kianax", "(idle)", "kianax"],
            "cost_usd": [3.0, 1.0, 2.0, 2.0, 0.0],
        }
    )
    fig = charts.cost_over_time(daily, by="namespace")
    assert [trace.name for trace in fig.data] == ["kianax", "(idle)"]  # biggest first
    assert fig.data[0].marker.color == palette.color_for("kianax") == "#0072B2"
    assert fig.data[1].marker.color == palette.IDLE_COLOR
    assert list(fig.data[0].y) == [3.0, 2.0]
    assert fig.layout.barmode == "stack"
    assert fig.layout.yaxis.title.text == "USD per day"


def test_palette_is_stable_for_unknown_names() -> None:
    assert palette.color_for("payments") == palette.color_for("payments")
    assert palette.color_for("payments") in palette.QUALITATIVE


def test_saturation_is_shaded_on_the_current_panel() -> None:
    stamps = pd.date_range("2026-11-20", periods=6, freq="1h", tz="UTC")
    frame = pd.DataFrame(
        {
            "timestamp": stamps,
            "replicas_observed": [2, 10, 10, 4, 10, 3],
            "saturated": [False, True, True, False, True, False],
        }
    )
    fig = charts.hpa_replicas(frame, HpaSettings(min_replicas=2, max_replicas=10))
    rects = [shape for shape in fig.layout.shapes if shape.type == "rect"]
    # Two runs: 01:00-03:00 and 04:00-05:00, as ISO strings the date axis can place.
    assert [(r.x0, r.x1) for r in rects] == [
        ("2026-11-20T01:00:00+00:00", "2026-11-20T03:00:00+00:00"),
        ("2026-11-20T04:00:00+00:00", "2026-11-20T05:00:00+00:00"),
    ]


def test_requests_vs_usage_in_display_units(demo_snapshot) -> None:  # type: ignore[no-untyped-def]
    cpu = frames.requests_vs_usage(demo_snapshot, None, "cpu", top=5)
    memory = frames.requests_vs_usage(demo_snapshot, None, "memory", top=5)
    assert len(cpu) == 5 and list(cpu["request"]) == sorted(cpu["request"], reverse=True)
    assert (cpu["used_p50"] <= cpu["used_p95"]).all() and (cpu["used_p95"] <= cpu["used_max"]).all()
    assert memory["request"].max() < 64, "GiB, not bytes"
    fig = charts.requested_vs_used(memory, "memory")
    assert fig.layout.xaxis.title.text == "GiB"


def test_packing_never_exceeds_what_the_pods_request(demo_snapshot) -> None:  # type: ignore[no-untyped-def]
    frame = frames.packing_frame(demo_snapshot)
    moment = frame["timestamp"].iloc[0]
    usage = demo_snapshot.usage[demo_snapshot.usage["timestamp"] == moment]
    requested = usage.merge(demo_snapshot.containers, on=["namespace", "pod", "container"])
    assert frame["cpu_request_cores"].sum() == pytest.approx(requested["cpu_request_cores"].sum())


def test_one_call_api_in_a_notebook(demo_snapshot) -> None:  # type: ignore[no-untyped-def]
    recs = kc.recommend(demo_snapshot)
    assert isinstance(recs, RecommendationSet)
    for fig in (
        kc.plot_costs(demo_snapshot),
        kc.plot_requests(demo_snapshot, recs),
        kc.plot_packing(demo_snapshot, "memory"),
        kc.plot_forecast(demo_snapshot),
        kc.plot_hpa(demo_snapshot, "kianax", "api-gateway", recs),
    ):
        assert isinstance(fig, go.Figure) and len(fig.data) > 0
    assert "<table>" in recs._repr_html_()
