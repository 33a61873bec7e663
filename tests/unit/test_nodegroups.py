"""Node-group right-sizing on synthetic clusters, priced with the embedded catalog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from _synthetic_cluster import GIB, MIB, SyntheticCluster

from kianax_capacity.config import NodeGroupConfig
from kianax_capacity.prices import embedded_catalog
from kianax_capacity.recommendations import NodeGroupRow, RecommendationSet, Resources
from kianax_capacity.recommenders.nodegroups import (
    candidate_specs,
    group_loads,
    recommend_nodegroups,
)
from kianax_capacity.recommenders.packing import eks_allocatable, pack
from kianax_capacity.snapshot import Snapshot

CATALOG = embedded_catalog("us-east-1")
START = datetime(2026, 11, 1, tzinfo=UTC)


def cluster() -> SyntheticCluster:
    c = SyntheticCluster(start=START, days=2)
    general = [
        c.node(f"general-{i}", "general-ng", "t3.medium", f"us-east-1{'abc'[i % 3]}")
        for i in range(3)
    ]
    # A fourth node only for the first day: the group ran 3.5 nodes on average.
    extra = c.node(
        "general-3", "general-ng", "t3.medium", "us-east-1a", last=START + timedelta(days=1)
    )
    spot = c.node("jobs-0", "jobs-ng", "t3.medium", "us-east-1a", capacity_type="SPOT")
    for name in ("api-gateway", "trading-service", "agent-service"):
        c.workload("kianax", "Deployment", name, nodes=general[:3], pdb_allowed=1.0)
    # A burst that only ran on day one, on the fourth node: the window's peak.
    c.workload(
        "kianax",
        "Deployment",
        "burst",
        nodes=[extra] * 4,
        cpu=0.4,
        memory=512 * MIB,
        last=START + timedelta(hours=20),
        pdb_allowed=1.0,
    )
    c.workload(
        "logging",
        "DaemonSet",
        "fluent-bit",
        nodes=[*general, extra, spot],
        cpu=0.1,
        memory=128 * MIB,
    )
    c.workload("batch", "CronJob", "nightly", nodes=[spot], cpu=1.0, memory=1 * GIB)
    return c


@pytest.fixture(scope="module")
def snapshot() -> Snapshot:
    return cluster().build()


@pytest.fixture(scope="module")
def rows(snapshot: Snapshot) -> dict[str, NodeGroupRow]:
    return {r.name: r for r in recommend_nodegroups(snapshot, CATALOG)}


def test_current_cost_is_node_hours_scaled_to_730(rows: dict[str, NodeGroupRow]) -> None:
    general = rows["general-ng"].current
    # Node-hours: 3 nodes x (48 h + 1 h step) + 1 x (24 h + 1 h) = 172 h in a 48 h window.
    assert general.nodes_avg == pytest.approx(172 / 48, abs=0.01)
    # List price of the node-hours; the total adds the surplus credits of the busy t3 nodes
    # (issue 18: the old total, list only, left them out).
    assert general.list_monthly_cost_usd == pytest.approx(172 * 0.0416 * 730 / 48, abs=0.01)
    assert general.burstable_surplus_usd is not None and general.burstable_surplus_usd > 0
    assert general.monthly_cost_usd == pytest.approx(
        general.list_monthly_cost_usd + general.burstable_surplus_usd, abs=0.01
    )
    assert general.cost_basis == "list"
    assert general.instance_types == ("t3.medium",)
    assert (general.min_size, general.max_size) == (3, 4)  # observed concurrent nodes
    jobs = rows["jobs-ng"].current
    spot_hourly = CATALOG.price("t3.medium").spot_hourly_usd
    assert spot_hourly is not None
    assert jobs.capacity_type == "SPOT"
    assert jobs.list_monthly_cost_usd == pytest.approx(49 * spot_hourly * 730 / 48, abs=0.01)


def test_daemonsets_become_per_node_overhead(snapshot: Snapshot) -> None:
    load = group_loads(snapshot)["general-ng"]
    assert load.overhead.pods == 1
    assert load.overhead.cpu_cores == pytest.approx(0.1)
    assert load.overhead.memory_bytes == 128 * MIB
    # Peak: 9 service pods + 4 burst pods; the DaemonSet is not in the workload pods.
    assert load.cpu_cores.max() == pytest.approx(9 * 0.25 + 4 * 0.4)
    assert load.pods.max() == 13
    assert load.pods.min() == 9


def test_recommended_type_holds_every_pod_at_peak(rows: dict[str, NodeGroupRow]) -> None:
    row = rows["general-ng"]
    chosen = row.recommended.instance_types[0]
    # Re-pack the peak independently: 9 x (0.25, 256Mi) + 4 x (0.4, 512Mi), 0.1/128Mi DS.
    from kianax_capacity.recommenders.packing import Overhead, PodRequest

    pods = [PodRequest(f"kianax/s{i % 3}", 0.25, 256 * MIB) for i in range(9)]
    pods += [PodRequest("kianax/burst", 0.4, 512 * MIB) for _ in range(4)]
    result = pack(
        pods,
        CATALOG.spec(chosen),
        overhead=Overhead(0.1, 128 * MIB, 1),
        zones=("us-east-1a", "us-east-1b", "us-east-1c"),
        min_nodes=2,
    )
    assert result.fits_all
    assert row.extra["peak"]["nodes"] == result.nodes  # type: ignore[index]
    assert row.recommended.max_size is not None
    assert row.recommended.max_size > result.nodes
    assert row.recommended.min_size == 2  # HA minimum
    assert row.recommended.capacity_type == "ON_DEMAND"
    assert row.extra["findings"] == []


def test_recommendation_is_the_cheapest_fitting_candidate(rows: dict[str, NodeGroupRow]) -> None:
    row = rows["general-ng"]
    candidates = row.extra["candidates"]
    fitting = [c for c in candidates if c["fits_all"]]  # type: ignore[union-attr]
    assert row.recommended.monthly_cost_usd == pytest.approx(
        min(c["monthly_cost_usd"] for c in fitting), abs=0.01
    )
    assert row.monthly_savings_usd == pytest.approx(
        (row.current.monthly_cost_usd or 0) - (row.recommended.monthly_cost_usd or 0), abs=0.02
    )


def test_commitment_prices_the_baseline_at_the_assumed_discount(
    rows: dict[str, NodeGroupRow],
) -> None:
    commitment = rows["general-ng"].extra["commitment"]
    assert isinstance(commitment, dict)
    on_demand = CATALOG.node_hourly_usd(commitment["instance_type"], "ON_DEMAND")
    baseline_cost = commitment["baseline_nodes"] * on_demand * 730
    assert commitment["baseline_nodes"] >= 2
    assert commitment["on_demand_monthly_usd"] == pytest.approx(baseline_cost, abs=0.01)
    assert commitment["monthly_savings_usd"] == pytest.approx(0.28 * baseline_cost, abs=0.01)
    assert "assumption" in commitment["assumption"]
    assert "28%" in commitment["assumption"]


def test_spot_group_is_diversified_over_low_interruption_types(
    rows: dict[str, NodeGroupRow],
) -> None:
    row = rows["jobs-ng"]
    types = row.recommended.instance_types
    assert row.recommended.capacity_type == "SPOT"
    assert len(types) >= 2
    vcpus = {CATALOG.spec(t).vcpu for t in types}
    assert len(vcpus) == 1
    for instance_type in types:
        assert CATALOG.interruption_range(instance_type) in ("<5%", "5-10%")
    assert row.extra["spot_share"] == 1.0
    assert row.extra["commitment"]["baseline_nodes"] == 0  # type: ignore[index]


def test_graviton_only_when_allowed() -> None:
    plain = {s.architecture for s in candidate_specs(CATALOG)}
    assert plain == {"amd64"}
    with_arm = candidate_specs(CATALOG, allow_graviton=True)
    assert {s.family for s in with_arm if s.architecture == "arm64"} == {"t4g", "m7g", "c7g"}


def test_smaller_new_requests_never_cost_more(snapshot: Snapshot) -> None:
    before = {r.name: r for r in recommend_nodegroups(snapshot, CATALOG)}
    halved = {
        ("kianax", "Deployment", name, "app"): Resources(
            cpu_request=0.125, memory_request=128 * MIB
        )
        for name in ("api-gateway", "trading-service", "agent-service", "burst")
    }
    after = {r.name: r for r in recommend_nodegroups(snapshot, CATALOG, new_requests=halved)}
    assert (after["general-ng"].recommended.monthly_cost_usd or 0) <= (
        before["general-ng"].recommended.monthly_cost_usd or 0
    )
    load = group_loads(snapshot, halved)["general-ng"]
    assert load.cpu_cores.max() == pytest.approx(13 * 0.125)


def test_a_pod_larger_than_any_candidate_is_a_finding() -> None:
    c = SyntheticCluster(start=START, days=1)
    node = c.node("general-0", "general-ng", "t3.medium")
    c.workload("kianax", "Deployment", "api", nodes=[node, node], pdb_allowed=1.0)
    c.workload("kianax", "Deployment", "giant", nodes=[node], cpu=40.0, memory=1 * GIB)
    (row,) = recommend_nodegroups(c.build(), CATALOG)
    findings = row.extra["findings"]
    assert isinstance(findings, list)
    assert any("giant" in f for f in findings)
    assert any("no candidate instance type holds every pod" in f for f in findings)


def test_scale_to_zero_group_keeps_min_zero(snapshot: Snapshot) -> None:
    config = {"jobs-ng": NodeGroupConfig(capacity_type="SPOT", min_size=0, max_size=10)}
    row = {r.name: r for r in recommend_nodegroups(snapshot, CATALOG, nodegroup_config=config)}
    jobs = row["jobs-ng"]
    assert (jobs.current.min_size, jobs.current.max_size) == (0, 10)
    assert jobs.recommended.min_size == 0


def test_allocatable_used_by_packing_is_the_eks_formula(rows: dict[str, NodeGroupRow]) -> None:
    chosen = rows["general-ng"].recommended.instance_types[0]
    allocatable = eks_allocatable(CATALOG.spec(chosen))
    peak = rows["general-ng"].extra["peak"]
    nodes = peak["nodes"]  # type: ignore[index]
    utilisation = peak["cpu_utilisation"]  # type: ignore[index]
    # (13 pods' CPU + one DaemonSet per node) / (nodes x allocatable CPU).
    expected = (9 * 0.25 + 4 * 0.4 + 0.1 * nodes) / (nodes * allocatable.cpu_cores)
    assert utilisation == pytest.approx(expected, abs=0.001)


def test_rows_validate_against_the_schema(
    snapshot: Snapshot, rows: dict[str, NodeGroupRow]
) -> None:
    from kianax_capacity.recommendations import validate_recommendations_json

    start, end = snapshot.window
    recs = RecommendationSet(
        cluster="synthetic",
        generated_at=end,
        window_start=start,
        window_end=end,
        step_seconds=snapshot.step_seconds,
        nodegroups=tuple(rows.values()),
    )
    validate_recommendations_json(recs.to_json())
    for row in rows.values():
        data = row.to_dict()
        assert NodeGroupRow.from_dict(data).to_dict() == data
