"""recommend_hpa on the embedded demo cluster: the cases it was built to show."""

from __future__ import annotations

import pytest

from kianax_capacity.model import ResourcePrices
from kianax_capacity.recommendations import RecommendationSet, validate_recommendations_json
from kianax_capacity.recommenders.hpa import recommend_hpa, simulate_for_chart
from kianax_capacity.recommenders.inventory import usage_with_owners
from kianax_capacity.snapshot import Snapshot
from kianax_capacity.sources.demo import generate_demo_snapshot

PRICES = ResourcePrices(cpu_core_hour_usd=0.0208, memory_gib_hour_usd=0.0026)


@pytest.fixture(scope="module")
def demo() -> Snapshot:
    return generate_demo_snapshot(days=7)


@pytest.fixture(scope="module")
def rows(demo):
    return {row.workload: row for row in recommend_hpa(demo, default_prices=PRICES)}


def test_every_demo_hpa_gets_a_row_that_fits_the_schema(demo, rows):
    assert set(rows) == set(demo.hpas["workload"])
    recs = RecommendationSet(
        cluster=demo.cluster,
        generated_at=demo.manifest.created_at,
        window_start=demo.window[0],
        window_end=demo.window[1],
        step_seconds=demo.step_seconds,
        hpa=tuple(rows.values()),
    )
    validate_recommendations_json(recs.to_json())


def test_market_data_service_saturated_at_max_gets_a_higher_max(rows):
    row = rows["market-data-service"]
    assert row.status == "ok"
    assert row.current.max_replicas == 10
    assert row.recommended.max_replicas > 10
    assert row.saturated_minutes["current"] > 300
    assert row.saturated_minutes["recommended"] <= 5
    assert row.monthly_savings_usd < 0  # serving the users who waited costs money
    assert row.reason.startswith("at max 10 for ")


def test_api_gateway_is_no_change(rows):
    row = rows["api-gateway"]
    assert row.status == "no_change", row.reason
    assert row.recommended == row.current


def test_user_service_pinned_at_min_keeps_the_ha_floor(rows):
    row = rows["user-service"]
    # min 2 is already the PDB floor: the HPA alone cannot save anything, and says why.
    assert row.recommended.min_replicas == 2
    assert row.status == "no_change"
    assert "pinned at min 2" in row.reason and "right-sizing" in row.reason


def test_user_service_with_right_sized_request_costs_less(demo):
    # What a right-sizer would propose: p95 of per-pod CPU and memory with 20 % headroom.
    usage = usage_with_owners(demo)
    pods = usage[usage["workload"] == "user-service"]
    per_pod = pods.groupby(["timestamp", "pod"], observed=True)[["cpu_cores", "memory_bytes"]].sum()
    new_cpu = float(per_pod["cpu_cores"].quantile(0.95)) * 1.2
    new_memory = int(per_pod["memory_bytes"].quantile(0.95) * 1.2)
    key = ("kianax", "Deployment", "user-service")
    rows = {
        r.workload: r
        for r in recommend_hpa(
            demo, default_prices=PRICES, new_requests={key: (new_cpu, new_memory)}
        )
    }
    row = rows["user-service"]
    assert row.status == "ok"
    assert row.monthly_savings_usd > 0
    assert row.recommended.min_replicas >= 2
    assert row.saturated_minutes["recommended"] == 0
    assert row.request_change_included is True
    # A few millicores of use: keeping the 175m scale point would need a target far above the
    # production band (80 %), so the target is capped there and the reason says the point moved.
    assert row.recommended.target_cpu_utilization == 80
    assert "instead of 175m" in row.reason
    assert "pinned at min 2" in row.reason


def test_chart_frame_for_market_data_service(demo, rows):
    frame = simulate_for_chart(
        demo, "kianax", "market-data-service", rows["market-data-service"].recommended
    )
    assert frame["saturated"].sum() > 0
    assert frame["saturated_recommended"].sum() <= 1
    assert (frame["replicas_observed"].dropna() <= 10).all()
    assert frame["replicas_recommended_sim"].max() > 10
