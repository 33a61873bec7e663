"""Forecasts: the trend recovers known growth, exhaustion dates are hand-worked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from _synthetic_cluster import MIB, SyntheticCluster

from kianax_capacity.prices import embedded_catalog
from kianax_capacity.recommendations import ForecastRow, RecommendationSet
from kianax_capacity.recommenders.forecast import (
    daily_peaks,
    fit_trend,
    forecast_series,
    recommend_forecast,
)
from kianax_capacity.snapshot import Snapshot

CATALOG = embedded_catalog("us-east-1")
START = datetime(2026, 11, 1, tzinfo=UTC)


def test_trend_recovers_a_known_linear_growth_within_its_interval() -> None:
    day = np.arange(28.0)
    truth = 100 + 2.5 * day
    inside_ahead = 0
    coverage = []
    for seed in range(50):
        rng = np.random.default_rng(seed)
        trend = fit_trend(day, truth + rng.normal(0, 3, len(day)))
        assert trend.slope_per_day == pytest.approx(2.5, abs=0.4)
        # The true line two weeks past the data lies inside the band...
        ahead = 27 + 14
        inside_ahead += abs(float(trend.at(ahead)) - (100 + 2.5 * ahead)) <= trend.half_width
        # ...and fresh observations of the same process fall inside it about 90% of the time.
        fresh = truth + rng.normal(0, 3, len(day))
        coverage.append(np.mean(np.abs(fresh - trend.at(day)) <= trend.half_width))
    assert inside_ahead >= 45
    assert 0.8 <= float(np.mean(coverage)) <= 0.97


def test_trend_shrugs_off_one_incident_day() -> None:
    day = np.arange(14.0)
    values = 10 + 0.5 * day
    values[6] += 40  # one incident
    trend = fit_trend(day, values)
    assert trend.slope_per_day == pytest.approx(0.5, abs=0.05)
    ordinary_least_squares = np.polyfit(day, values, 1)[0]
    assert abs(ordinary_least_squares - 0.5) > abs(trend.slope_per_day - 0.5)


def test_exact_line_and_flat_series() -> None:
    trend = fit_trend(np.arange(10.0), 5 + 2 * np.arange(10.0))
    assert trend.slope_per_day == pytest.approx(2.0, abs=1e-6)
    assert trend.half_width == pytest.approx(0.0, abs=1e-6)
    flat = fit_trend(np.arange(10.0), np.full(10, 3.0))
    assert flat.slope_per_day == 0.0


def growing(days: float = 14) -> Snapshot:
    """general-ng: 3 t3.medium nodes; one more 0.25-core / 256 MiB pod starts each midnight.

    batch-ng: one node with one flat pod (no growth).
    """
    c = SyntheticCluster(start=START, days=days)
    nodes = [c.node(f"general-{i}", "general-ng", "t3.medium", f"z{i}") for i in range(3)]
    flat = c.node("batch-0", "batch-ng", "t3.medium", "z0")
    c.builder.workload("kianax", "Deployment", "grower", pdb_disruptions_allowed=1.0)
    for k in range(int(days)):
        c.pod(
            "kianax",
            "Deployment",
            "grower",
            f"grower-{k}",
            nodes[k % 3],
            0.25,
            256 * MIB,
            first=START + timedelta(days=k),
        )
    c.workload("batch", "Deployment", "steady", nodes=[flat], cpu=0.5, memory=512 * MIB)
    return c.build()


@pytest.fixture(scope="module")
def rows() -> dict[tuple[str, str], ForecastRow]:
    return {r.key: r for r in recommend_forecast(growing(), CATALOG)}


def test_daily_peaks_count_the_pods_of_each_day() -> None:
    peaks = daily_peaks(growing())
    cpu = peaks[(peaks["scope"] == "general-ng") & (peaks["resource"] == "cpu")]
    # Day d has d + 1 pods; the 1-sample day at the window's end is dropped.
    assert len(cpu) == 14
    assert list(cpu["requests"]) == pytest.approx([0.25 * (d + 1) for d in range(14)])
    assert list(cpu["usage"]) == pytest.approx([0.125 * (d + 1) for d in range(14)])


def test_exhaustion_date_of_a_linearly_growing_group(
    rows: dict[tuple[str, str], ForecastRow],
) -> None:
    # Capacity: 3 nodes x 1.93 allocatable cores = 5.79; requests 0.25 x (d + 1) reach it on
    # day 23 (0.25 x 24 = 6.0 >= 5.79 > 0.25 x 23 = 5.75).
    cpu = rows[("general-ng", "cpu")]
    assert cpu.status == "ok"
    assert cpu.extra["capacity"] == pytest.approx(5.79)
    assert cpu.extra["capacity_source"] == "most nodes seen at once"
    assert cpu.exhausted_on == (START + timedelta(days=23)).date().isoformat()
    assert cpu.extra["slope_per_day"] == pytest.approx(0.25, abs=1e-6)
    # Memory: 3 x (4 GiB - 542 MiB) = 10,662 MiB; 256 MiB x (d + 1) reaches it on day 41.
    assert rows[("general-ng", "memory")].exhausted_on == (
        (START + timedelta(days=41)).date().isoformat()
    )
    # Pods: 3 x 17 = 51 slots, reached on day 50.
    assert (
        rows[("general-ng", "pods")].exhausted_on == (START + timedelta(days=50)).date().isoformat()
    )


def test_config_max_nodes_moves_the_date() -> None:
    rows = {r.key: r for r in recommend_forecast(growing(), CATALOG, max_nodes={"general-ng": 4})}
    cpu = rows[("general-ng", "cpu")]
    # 4 x 1.93 = 7.72: 0.25 x 31 = 7.75 on day 30.
    assert cpu.exhausted_on == (START + timedelta(days=30)).date().isoformat()
    assert cpu.extra["capacity_source"] == "config max_size"


def test_flat_group_is_not_exhausted_within_the_horizon(
    rows: dict[tuple[str, str], ForecastRow],
) -> None:
    row = rows[("batch-ng", "cpu")]
    assert row.status == "ok"
    assert row.exhausted_on is None
    assert "not within 90 days" in str(row.extra["reason"])


def test_namespaces_carry_the_trend_only(rows: dict[tuple[str, str], ForecastRow]) -> None:
    row = rows[("kianax", "cpu")]
    assert row.exhausted_on is None
    assert row.extra["slope_per_day"] == pytest.approx(0.25, abs=1e-6)
    assert row.extra["scope_type"] == "namespace"


def test_three_days_is_insufficient_data() -> None:
    rows = recommend_forecast(growing(days=3), CATALOG)
    assert rows
    for row in rows:
        assert row.status == "insufficient_data"
        assert row.exhausted_on is None
        assert "at least 7" in str(row.extra["reason"])


def test_forecast_series_for_a_chart() -> None:
    frame = forecast_series(growing(), CATALOG, scope="general-ng", resource="cpu", horizon_days=30)
    assert list(frame.columns) == [
        "date",
        "actual",
        "usage",
        "fitted",
        "lower",
        "upper",
        "capacity",
    ]
    assert len(frame) == 14 + 30
    assert frame["actual"].iloc[:14].tolist() == pytest.approx([0.25 * (d + 1) for d in range(14)])
    assert frame["actual"].iloc[14:].isna().all()
    assert (frame["lower"] <= frame["fitted"]).all() and (frame["fitted"] <= frame["upper"]).all()
    assert frame["capacity"].iloc[0] == pytest.approx(5.79)


def test_rows_validate_against_the_schema(rows: dict[tuple[str, str], ForecastRow]) -> None:
    from kianax_capacity.recommendations import validate_recommendations_json

    recs = RecommendationSet(
        cluster="synthetic",
        generated_at=START,
        window_start=START,
        window_end=START + timedelta(days=14),
        step_seconds=3600,
        forecast=tuple(rows.values()),
    )
    validate_recommendations_json(recs.to_json())
