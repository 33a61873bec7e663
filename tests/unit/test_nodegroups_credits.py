"""Node groups as AWS bills burstable nodes: surplus credits in the cost and in the choice."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from _synthetic_cluster import GIB, MIB, SyntheticCluster

from kianax_capacity.config import NodeGroupConfig
from kianax_capacity.prices import embedded_catalog
from kianax_capacity.prices.credits import credit_spec
from kianax_capacity.recommendations import (
    NodeGroupRow,
    RecommendationSet,
    validate_recommendations_json,
)
from kianax_capacity.recommenders.nodegroups import recommend_nodegroups
from kianax_capacity.snapshot import Snapshot

CATALOG = embedded_catalog("us-east-1")
START = datetime(2026, 11, 2, tzinfo=UTC)
DEMO_CONFIG = {
    "general-ng": NodeGroupConfig(("t3.medium",), "ON_DEMAND", 2, 5),
    "system-ng": NodeGroupConfig(("t3.small",), "ON_DEMAND", 2, 2),
    "jobs-ng": NodeGroupConfig((), "SPOT", 0, 10),
}


@pytest.fixture(scope="module")
def demo_rows(demo_snapshot: Snapshot) -> dict[str, NodeGroupRow]:
    rows = recommend_nodegroups(demo_snapshot, CATALOG, nodegroup_config=DEMO_CONFIG)
    return {r.name: r for r in rows}


def _independent_surplus(snapshot: Snapshot, group: str) -> float:
    """Surplus USD a month by the 24-hour-average rule, straight from the snapshot's tables.

    Per node over its life: CPU used (its containers' usage, each sample one step, plus the
    EKS kube-reserved 0.07 cores on 2 vCPUs for the kubelet and runtime) less what its
    baseline earns (t3.medium: 0.4 cores), if positive, at USD 0.05 per vCPU-hour; scaled from
    the window to 730 hours. No credit cap, no step-by-step balance: a different road to the
    same bill.
    """
    nodes = snapshot.table("nodes")
    nodes = nodes[nodes["node_group"] == group]
    step_hours = snapshot.step_seconds / 3600
    used = snapshot.table("usage").merge(
        snapshot.table("pods")[["namespace", "pod", "node"]], on=["namespace", "pod"]
    )
    core_hours = used.groupby("node")["cpu_cores"].sum() * step_hours
    total = 0.0
    for node, first, last in zip(
        nodes["node"], nodes["first_seen"], nodes["last_seen"], strict=True
    ):
        hours = (last - first).total_seconds() / 3600 + step_hours
        spent = float(core_hours.get(node, 0.0)) + 0.07 * hours
        total += max(0.0, spent - 0.4 * hours) * 0.05
    start, end = snapshot.window
    return total * 730 / ((end - start).total_seconds() / 3600)


def test_demo_general_ng_surplus_matches_an_independent_computation(
    demo_snapshot: Snapshot, demo_rows: dict[str, NodeGroupRow]
) -> None:
    general = demo_rows["general-ng"].current
    expected = _independent_surplus(demo_snapshot, "general-ng")
    assert expected > 50  # the busy group's surplus is real money on this demo
    assert general.burstable_surplus_usd == pytest.approx(expected, rel=0.15)
    assert general.list_monthly_cost_usd is not None
    assert general.monthly_cost_usd == pytest.approx(
        general.list_monthly_cost_usd + general.burstable_surplus_usd, abs=0.01
    )
    burstable = demo_rows["general-ng"].extra["burstable"]["current"]  # type: ignore[index]
    assert burstable["mode"] == "unlimited"
    assert 0.40 < burstable["mean_cpu_utilisation"] < 0.60


def test_demo_system_ng_is_below_its_baseline(demo_rows: dict[str, NodeGroupRow]) -> None:
    system = demo_rows["system-ng"].current
    assert system.burstable_surplus_usd is not None
    assert system.burstable_surplus_usd < 1.0


def test_every_candidate_is_compared_on_list_plus_surplus(
    demo_rows: dict[str, NodeGroupRow],
) -> None:
    row = demo_rows["general-ng"]
    candidates = row.extra["candidates"]
    assert isinstance(candidates, list)
    for candidate in candidates:
        surplus = candidate["burstable_surplus_usd"] or 0.0
        assert candidate["monthly_cost_usd"] == pytest.approx(
            candidate["list_monthly_cost_usd"] + surplus, abs=0.02
        )
        if credit_spec(candidate["instance_type"]) is None:
            assert surplus == 0.0
    fitting = [c for c in candidates if c["fits_all"]]
    chosen = row.recommended.instance_types[0]
    assert min(fitting, key=lambda c: c["monthly_cost_usd"])["instance_type"] == chosen
    assert "surplus" in row.reason


def _busy_cluster() -> SyntheticCluster:
    """Three t3.medium nodes, each running two pods that use their 0.9-core request in full.

    Per node 1.8 cores + 0.07 allowance = 1.87 cores, 93% of 2 vCPU against a 0.4-core
    baseline: 1.47 vCPU-hours of surplus an hour, USD 0.0735, on a USD 0.0416 node.
    """
    c = SyntheticCluster(start=START, days=2)
    nodes = [c.node(f"busy-{i}", "busy-ng", "t3.medium", f"us-east-1{'abc'[i]}") for i in range(3)]
    c.workload(
        "app",
        "Deployment",
        "cruncher",
        nodes=[n for n in nodes for _ in (0, 1)],
        cpu=0.9,
        memory=512 * MIB,
        usage_share=1.0,
        pdb_allowed=1.0,
    )
    return c


def test_a_sustained_load_moves_off_burstable_when_that_is_cheaper() -> None:
    row = recommend_nodegroups(_busy_cluster().build(), CATALOG)[0]
    # 3 nodes x 48 h + one step each x (1.87 - 0.4) cores x USD 0.05, scaled to 730 h.
    hours = 3 * 49
    expected_surplus = hours * 1.47 * 0.05 * 730 / 48
    assert row.current.burstable_surplus_usd == pytest.approx(expected_surplus, rel=0.02)
    chosen = row.recommended.instance_types[0]
    assert credit_spec(chosen) is None, row.reason
    assert row.recommended.burstable_surplus_usd == 0.0
    assert f"{chosen} is not burstable" in row.reason
    assert f"${row.current.burstable_surplus_usd:,.2f}/month of surplus credits" in row.reason
    assert row.monthly_savings_usd is not None and row.monthly_savings_usd > 0


def test_standard_mode_is_a_throttling_risk_not_a_cost() -> None:
    config = {"busy-ng": NodeGroupConfig(cpu_credits="standard")}
    row = recommend_nodegroups(_busy_cluster().build(), CATALOG, nodegroup_config=config)[0]
    assert row.current.burstable_surplus_usd == 0.0
    current = row.extra["burstable"]["current"]  # type: ignore[index]
    assert current["mode"] == "standard"
    assert current["throttled_core_hours_monthly"] > 100
    assert "held at baseline" in row.reason


def test_no_usage_series_means_surplus_unknown_with_the_reason() -> None:
    snapshot = _busy_cluster().build()
    tables = dict(snapshot.tables)
    tables["usage"] = tables["usage"].iloc[0:0]
    row = recommend_nodegroups(Snapshot(snapshot.manifest, tables), CATALOG)[0]
    assert row.current.burstable_surplus_usd is None
    assert row.current.to_dict()["burstable_surplus_usd"] is None
    assert row.current.monthly_cost_usd == row.current.list_monthly_cost_usd
    assert "surplus credits unknown" in row.reason
    assert "--shape series" in row.reason


def test_a_karpenter_nodepool_gets_no_managed_group_min_max() -> None:
    """Nodes labelled karpenter.sh/nodepool=default, provisioner karpenter (issue 16 item 4)."""
    c = SyntheticCluster(start=START, days=1)
    nodes = [c.node(f"ip-10-0-0-{i}", "default", "m6i.large") for i in range(2)]
    c.workload("app", "Deployment", "web", nodes=nodes * 2, cpu=0.5, memory=1 * GIB)
    snapshot = c.build()
    tables = dict(snapshot.tables)
    tables["nodes"] = tables["nodes"].assign(provisioner="karpenter")
    karpenter = Snapshot(snapshot.manifest, tables)
    row = recommend_nodegroups(karpenter, CATALOG)[0]
    assert row.current.min_size is None and row.current.max_size is None
    assert row.recommended.min_size is None and row.recommended.max_size is None
    assert "Karpenter NodePool" in row.reason
    assert "spec.limits" in row.reason
    limits = row.extra["karpenter"]["limits"]  # type: ignore[index]
    assert limits["cpu"] > 0 and limits["memory_bytes"] > 0
    assert row.extra["provisioner"] == "karpenter"
    # Without the column (an older snapshot) the same group is a managed one.
    managed = recommend_nodegroups(snapshot, CATALOG)[0]
    assert managed.recommended.min_size is not None
    assert managed.extra["provisioner"] == "managed"


def test_rows_with_the_new_keys_validate_and_read_back(
    demo_snapshot: Snapshot, demo_rows: dict[str, NodeGroupRow]
) -> None:
    start, end = demo_snapshot.window
    recs = RecommendationSet(
        cluster="demo",
        generated_at=end,
        window_start=start,
        window_end=end,
        step_seconds=demo_snapshot.step_seconds,
        nodegroups=tuple(demo_rows.values()),
    )
    data = recs.to_json()
    validate_recommendations_json(data)
    back = RecommendationSet.from_json(data)
    general = {r.name: r for r in back.nodegroups}["general-ng"]
    assert general.current == demo_rows["general-ng"].current
    assert pd.notna(general.current.burstable_surplus_usd)


def test_a_single_type_spot_group_is_warned_and_diversified(
    demo_rows: dict[str, NodeGroupRow],
) -> None:
    jobs = demo_rows["jobs-ng"]
    spot = jobs.extra["spot"]
    assert isinstance(spot, dict)
    assert [p["instance_type"] for p in spot["current_pools"]] == ["m5.large"]
    # The Spot Advisor's range for m5.large, shipped in the embedded data.
    assert spot["current_pools"][0]["interruption_range"] == CATALOG.interruption_range("m5.large")
    assert "single-type spot group: m5.large" in spot["warning"]
    recommended = [p["instance_type"] for p in spot["recommended_pools"]]
    assert len(recommended) >= 2 and list(jobs.recommended.instance_types) == recommended
    vcpus = {CATALOG.spec(t).vcpu for t in recommended}
    assert len(vcpus) == 1  # the same shape
    for pool in spot["recommended_pools"]:
        assert pool["interruption_range"] in ("<5%", "5-10%")
    assert "single-type spot group (m5.large)" in jobs.reason
    assert "Spot Instance Advisor" in spot["interruption_source"]
