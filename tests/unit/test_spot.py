"""Spot readiness: each blocker named on a synthetic snapshot; savings hand-worked."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from _synthetic_cluster import MIB, SyntheticCluster

from kianax_capacity.model import ResourcePrices
from kianax_capacity.prices import embedded_catalog
from kianax_capacity.recommendations import SpotRow
from kianax_capacity.recommenders.spot import assess_spot, recommend_spot, spot_frame
from kianax_capacity.snapshot import Snapshot

GIB = 1024**3


CATALOG = embedded_catalog("us-east-1")


def synthetic() -> Snapshot:
    c = SyntheticCluster(days=2)
    a = c.node("general-a", "general-ng", "t3.medium", "us-east-1a")
    b = c.node("general-b", "general-ng", "t3.medium", "us-east-1b")
    s = c.node("system-a", "system-ng", "t3.small", "us-east-1a")
    j = c.node("jobs-a", "jobs-ng", "t3.medium", "us-east-1a", capacity_type="SPOT")
    c.workload("kianax", "Deployment", "api-gateway", nodes=[a, b, a], pdb_allowed=1.0)
    c.workload("kianax", "Deployment", "lonely", nodes=[a], pdb_allowed=0.0, pdb_min_available=1.0)
    c.workload("kianax", "Deployment", "no-pdb", nodes=[a, b])
    c.workload("kianax", "Deployment", "scratch", nodes=[a, b], pdb_allowed=1.0, has_emptydir=True)
    c.workload("kianax", "Deployment", "forced", nodes=[a], pdb_allowed=0.0)
    c.workload(
        "monitoring",
        "StatefulSet",
        "prometheus",
        nodes=[s],
        pdb_allowed=float("nan"),
        has_pvc=True,
        memory=2 * GIB // 4,
    )
    c.workload("logging", "DaemonSet", "fluent-bit", nodes=[a, b, s, j], cpu=0.05, memory=64 * MIB)
    c.workload("batch", "CronJob", "nightly-report", nodes=[j])
    return c.build()


def by_name(rows: Iterable[SpotRow]) -> dict[str, SpotRow]:
    return {row.workload: row for row in rows}


@pytest.fixture(scope="module")
def rows() -> dict[str, SpotRow]:
    return by_name(
        recommend_spot(
            synthetic(),
            CATALOG,
            unit_prices={"general-ng": ResourcePrices(0.02, 0.003)},
            overrides={"kianax/forced": True},
        )
    )


def test_stateless_three_replica_deployment_is_ready_with_hand_worked_savings(
    rows: dict[str, SpotRow],
) -> None:
    row = rows["api-gateway"]
    assert row.ready and row.blockers == ()
    assert row.interruption_range == "<5%"
    # 3 replicas x (0.25 cores, 0.25 GiB): on-demand (0.75 x 0.02 + 0.75 x 0.003) x 730 = 12.5925;
    # t3.medium spot saves 56% (Spot Advisor, embedded), so the saving is 12.5925 x 0.56 = 7.05.
    assert row.monthly_savings_usd == pytest.approx(7.05, abs=0.01)
    assert row.extra["replicas_avg"] == pytest.approx(3.0)


def test_statefulset_with_pvc_is_blocked_naming_each_reason(rows: dict[str, SpotRow]) -> None:
    row = rows["prometheus"]
    assert not row.ready
    assert row.monthly_savings_usd is None
    codes = row.extra["blocker_codes"]
    assert {"kind", "pvc", "replicas", "pdb", "system"} <= set(codes)  # type: ignore[arg-type]
    assert any(b.startswith("StatefulSet") for b in row.blockers)
    assert any(b.startswith("PVC") for b in row.blockers)


def test_single_replica_is_blocked(rows: dict[str, SpotRow]) -> None:
    row = rows["lonely"]
    assert not row.ready
    assert any(b.startswith("replicas: typically 1.0") for b in row.blockers)
    assert any(b.startswith("PDB: allows no disruption") for b in row.blockers)


def test_missing_pdb_and_emptydir_are_blockers(rows: dict[str, SpotRow]) -> None:
    assert rows["no-pdb"].extra["blocker_codes"] == ["pdb"]
    assert rows["scratch"].extra["blocker_codes"] == ["emptydir"]


def test_cronjob_on_spot_nodes_is_already_on_spot(rows: dict[str, SpotRow]) -> None:
    row = rows["nightly-report"]
    assert row.ready
    assert row.extra["note"] == "already on spot"
    assert row.monthly_savings_usd == 0.0
    assert row.extra["capacity_type"] == "SPOT"


def test_daemonset_is_not_applicable(rows: dict[str, SpotRow]) -> None:
    row = rows["fluent-bit"]
    assert not row.ready
    assert row.extra["applicable"] is False
    assert row.blockers[0].startswith("DaemonSet: not applicable")


def test_override_true_makes_ready_and_keeps_what_it_overrode(rows: dict[str, SpotRow]) -> None:
    row = rows["forced"]
    assert row.ready and row.blockers == ()
    assert row.extra["overridden_blockers"]
    # Priced with the general-ng unit prices: 1 replica x (0.25 cores, 0.25 GiB) -> 7.05 / 3.
    assert row.monthly_savings_usd == pytest.approx(7.0518 / 3, abs=0.01)


def test_override_false_blocks_a_ready_workload() -> None:
    items = {
        a.workload: a for a in assess_spot(synthetic(), overrides={"kianax/api-gateway": False})
    }
    assert not items["api-gateway"].ready
    assert items["api-gateway"].blocker_codes == ("override",)


def test_custom_system_namespaces() -> None:
    items = {a.workload: a for a in assess_spot(synthetic(), system_namespaces=("kianax",))}
    assert "system" in items["api-gateway"].blocker_codes
    assert "system" not in items["prometheus"].blocker_codes


def test_rows_serialise_and_frame(rows: dict[str, SpotRow]) -> None:
    for row in rows.values():
        data = row.to_dict()
        assert SpotRow.from_dict(data).to_dict() == data
    frame = spot_frame(list(rows.values()))
    assert set(frame["workload"]) == set(rows)


def test_savings_only_on_the_pod_time_not_yet_on_spot() -> None:
    c = SyntheticCluster(days=2)
    a = c.node("general-a", "general-ng", "t3.medium", "us-east-1a")
    b = c.node("general-b", "general-ng", "t3.medium", "us-east-1b")
    j = c.node("jobs-a", "jobs-ng", "t3.medium", "us-east-1a", capacity_type="SPOT")
    c.workload("kianax", "Deployment", "api-gateway", nodes=[a, b, a], pdb_allowed=1.0)
    c.workload("kianax", "Deployment", "partly", nodes=[a, b, j], pdb_allowed=1.0)
    rows = by_name(
        recommend_spot(c.build(), CATALOG, unit_prices={"general-ng": ResourcePrices(0.02, 0.003)})
    )
    whole, partly = rows["api-gateway"], rows["partly"]
    assert whole.extra["spot_share"] == 0.0
    # One of three equal pods runs on spot: a third of the pod-time; the saving is the other
    # two thirds of the same hand-worked 7.05 (api-gateway, all on-demand).
    assert partly.extra["spot_share"] == pytest.approx(1 / 3, abs=1e-3)
    assert partly.ready
    assert partly.monthly_savings_usd == pytest.approx(7.05 * 2 / 3, abs=0.01)
    assert "33% of its pod-time already on spot" in str(partly.extra["note"])
