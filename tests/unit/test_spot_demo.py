"""Spot readiness on the embedded demo cluster: the cases issue 7 asks to show."""

from __future__ import annotations

import pytest

from kianax_capacity.prices import embedded_catalog, node_group_unit_prices
from kianax_capacity.recommendations import (
    RecommendationSet,
    SpotRow,
    validate_recommendations_json,
)
from kianax_capacity.recommenders.spot import recommend_spot
from kianax_capacity.snapshot import Snapshot

CATALOG = embedded_catalog("us-east-1")


@pytest.fixture(scope="module")
def rows(demo_snapshot: Snapshot) -> dict[str, SpotRow]:
    prices = node_group_unit_prices(
        demo_snapshot.nodes, CATALOG, step_seconds=demo_snapshot.step_seconds
    )
    return {r.workload: r for r in recommend_spot(demo_snapshot, CATALOG, unit_prices=prices)}


def test_stateless_multi_replica_kianax_services_are_spot_ready(
    demo_snapshot: Snapshot, rows: dict[str, SpotRow]
) -> None:
    workloads = demo_snapshot.workloads
    services = workloads[(workloads["namespace"] == "kianax") & (workloads["kind"] == "Deployment")]
    assert len(services) >= 7
    for name in services["workload"]:
        row = rows[name]
        assert row.ready, (name, row.blockers)
        assert row.blockers == ()
        assert row.monthly_savings_usd is not None and row.monthly_savings_usd > 0
        assert row.interruption_range is not None
        assert row.extra["replicas_avg"] >= 2  # type: ignore[operator]


def test_prometheus_statefulset_with_pvc_is_blocked(rows: dict[str, SpotRow]) -> None:
    row = rows["prometheus"]
    assert not row.ready
    assert any(b.startswith("StatefulSet") for b in row.blockers)
    assert any(b.startswith("PVC") for b in row.blockers)


def test_single_replica_workloads_are_blocked_by_replicas(rows: dict[str, SpotRow]) -> None:
    singles = [r for r in rows.values() if r.extra["applicable"] and r.extra["replicas_avg"] == 1.0]
    singles = [r for r in singles if r.kind not in ("CronJob", "Job")]
    assert singles
    for row in singles:
        assert not row.ready
        assert "replicas" in row.extra["blocker_codes"]  # type: ignore[operator]


def test_batch_cronjobs_are_already_on_spot(rows: dict[str, SpotRow]) -> None:
    cronjobs = [r for r in rows.values() if r.kind == "CronJob"]
    assert cronjobs
    for row in cronjobs:
        assert row.ready
        assert row.extra["note"] == "already on spot"
        assert row.monthly_savings_usd == 0.0


def test_daemonsets_are_not_applicable(rows: dict[str, SpotRow]) -> None:
    for row in rows.values():
        if row.kind == "DaemonSet":
            assert not row.ready and row.extra["applicable"] is False


def test_demo_spot_rows_fit_the_schema(demo_snapshot: Snapshot, rows: dict[str, SpotRow]) -> None:
    start, end = demo_snapshot.window
    recs = RecommendationSet(
        cluster=demo_snapshot.cluster,
        generated_at=end,
        window_start=start,
        window_end=end,
        step_seconds=demo_snapshot.step_seconds,
        spot=tuple(rows.values()),
    )
    validate_recommendations_json(recs.to_json())
