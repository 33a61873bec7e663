"""The CPU-credit simulation on hand-worked series (figures from the EC2 User Guide's credit table).

t3.medium: 2 vCPU, 24 credits per hour (20% baseline per vCPU = 0.4 cores), at most 576
accrued credits, no launch credits, unlimited by default, surplus USD 0.05 per vCPU-hour
(= USD 0.05 / 60 per credit). One credit = one vCPU busy for one minute.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from kianax_capacity.prices.credits import credit_spec
from kianax_capacity.recommenders.burstable import node_cpu, simulate_credits
from kianax_capacity.snapshot import Snapshot, SnapshotManifest, empty_table

T3_MEDIUM = credit_spec("t3.medium")
assert T3_MEDIUM is not None


def test_the_reference_figures_are_the_user_guide_table() -> None:
    assert (T3_MEDIUM.vcpu, T3_MEDIUM.credits_per_hour, T3_MEDIUM.max_accrued_credits) == (
        2,
        24.0,
        576.0,
    )
    assert T3_MEDIUM.baseline_cores == pytest.approx(0.4)
    t4g = credit_spec("t4g.large")
    t2 = credit_spec("t2.medium")
    assert t4g is not None and t4g.surplus_usd_per_vcpu_hour == 0.04
    assert t2 is not None and (t2.default_mode, t2.launch_credits) == ("standard", 60.0)
    assert credit_spec("m6i.large") is None


def test_steady_below_baseline_accrues_to_the_cap_and_costs_nothing() -> None:
    """10% of 2 vCPU = 0.2 cores for 72 h.

    Earned 24/h, spent 0.2 x 60 = 12/h: the balance grows 12/h and reaches the 576 cap after
    48 h, where it stays (the last 24 h of earnings beyond the cap are lost). No surplus.
    """
    result = simulate_credits(np.full(72, 0.2), 1.0, T3_MEDIUM)
    assert result.surplus_usd == 0.0
    assert result.balance[23] == pytest.approx(24 * 12)
    assert result.balance[47] == pytest.approx(576)
    assert result.balance[-1] == pytest.approx(576)
    assert result.mean_utilisation == pytest.approx(0.10)


def test_steady_60_percent_for_24_hours_is_charged_the_hand_worked_surplus() -> None:
    """A node at a steady 60% for 24 h on a 2-vCPU, 20%-baseline type (t3.medium).

    Busy 0.6 x 2 = 1.2 cores: it spends 1.2 x 60 = 72 credits an hour and earns 24, so it
    runs 48 credits an hour into surplus (it starts with no balance: T3 has no launch credits).
    After 12 h the surplus reaches the 576 cap; over the next 12 h the 48/h beyond it are
    charged hourly (576 credits), and the 576 outstanding are charged when the node stops at
    the end of the 24 h: 1,152 credits = 19.2 vCPU-hours x USD 0.05 = USD 0.96.

    The same as the 24-hour average rule: (60% - 20%) x 2 vCPU x 24 h = 19.2 vCPU-hours.
    """
    hourly = simulate_credits(np.full(24, 1.2), 1.0, T3_MEDIUM)
    assert hourly.surplus_credits_charged == pytest.approx(1152)
    assert hourly.surplus_usd == pytest.approx(0.96)
    assert hourly.surplus_balance[11] == pytest.approx(576)
    # The same day at a 5-minute step gives the same dollars.
    fine = simulate_credits(np.full(288, 1.2), 5 / 60, T3_MEDIUM)
    assert fine.surplus_usd == pytest.approx(0.96)


def test_a_burst_repaid_overnight_costs_nothing() -> None:
    """3 h at 100% (2 cores), then 21 h at 5% (0.1 cores).

    The burst spends 120/h and earns 24: 3 x 96 = 288 surplus credits, under the 576 cap, so
    nothing is charged yet. Overnight it spends 6/h and earns 24: 18/h pays the surplus down
    in 16 h (288 / 18), and the last 5 h accrue 5 x 18 = 90 credits. Charged: 0.

    A node that stops right after the burst has no night to repay it: it is charged the 288
    credits it owes when it stops, 288 / 60 x USD 0.05 = USD 0.24. The burst after the quiet
    hours instead spends the 21 x 18 = 378 credits they accrued, and owes nothing.
    """
    day = np.array([2.0] * 3 + [0.1] * 21)
    repaid = simulate_credits(day, 1.0, T3_MEDIUM)
    assert repaid.surplus_usd == 0.0
    assert repaid.surplus_balance[2] == pytest.approx(288)
    assert repaid.surplus_balance[18] == pytest.approx(0.0)
    assert repaid.balance[-1] == pytest.approx(90)
    owed = simulate_credits(day[:3].copy(), 1.0, T3_MEDIUM)
    assert owed.surplus_usd == pytest.approx(288 / 60 * 0.05)
    banked = simulate_credits(day[::-1].copy(), 1.0, T3_MEDIUM)
    assert banked.surplus_usd == 0.0
    assert banked.balance[-1] == pytest.approx(378 - 288)


def test_standard_mode_is_held_at_baseline_a_risk_not_a_cost() -> None:
    """The 60% day in standard mode: no balance, so held at 0.4 cores all 24 h.

    Asked 1.2 cores, served 0.4: 0.8 cores x 24 h = 19.2 core-hours not served, 24 node-hours
    throttled, no dollars.
    """
    result = simulate_credits(np.full(24, 1.2), 1.0, T3_MEDIUM, mode="standard")
    assert result.surplus_usd == 0.0
    assert result.throttled_core_hours == pytest.approx(19.2)
    assert result.throttled_node_hours == pytest.approx(24)


def test_t2_standard_launch_credits_are_spent_first() -> None:
    """t2.medium (2 vCPU, 24/h, 60 launch credits) at 1.2 cores for 1 h: 72 spent, 24 + 60 on hand."""
    t2 = credit_spec("t2.medium")
    assert t2 is not None
    result = simulate_credits(np.array([1.2]), 1.0, t2, mode="standard")
    assert result.throttled_core_hours == 0.0
    assert result.balance[0] == pytest.approx(12)  # 60 + 24 - 72


def test_a_node_that_stops_pays_its_surplus_and_each_node_is_its_own_account() -> None:
    """Two nodes, 4 h: A at 1.2 cores for 2 h then gone; B at 0.2 cores throughout.

    A owes 2 x 48 = 96 credits when it stops (charged then: USD 0.08); B's spare credits do
    not pay A's debt.
    """
    cpu = np.array([[1.2, 0.2], [1.2, 0.2], [np.nan, 0.2], [np.nan, 0.2]])
    result = simulate_credits(cpu, 1.0, T3_MEDIUM)
    assert result.surplus_credits_charged == pytest.approx(96)
    assert result.node_hours == pytest.approx(6)
    assert result.balance[-1] == pytest.approx(4 * 12)


def _snapshot(node_usage: pd.DataFrame | None) -> Snapshot:
    start = datetime(2026, 11, 2, tzinfo=UTC)
    times = [start + timedelta(minutes=5 * i) for i in range(3)]
    nodes = empty_table("nodes")
    nodes = pd.DataFrame(
        {
            "node": ["n1"],
            "node_group": ["g"],
            "instance_type": ["t3.medium"],
            "zone": ["a"],
            "capacity_type": ["ON_DEMAND"],
            "architecture": ["amd64"],
            "cpu_capacity_cores": [2.0],
            "memory_capacity_bytes": [4e9],
            "cpu_allocatable_cores": [1.93],
            "memory_allocatable_bytes": [3.5e9],
            "pods_allocatable": [17.0],
            "first_seen": pd.to_datetime([times[0]], utc=True),
            "last_seen": pd.to_datetime([times[-1]], utc=True),
        }
    )
    pods = pd.DataFrame(
        {
            "namespace": ["ns", "ns"],
            "pod": ["a", "b"],
            "kind": ["Deployment", "DaemonSet"],
            "workload": ["web", "agent"],
            "node": ["n1", "n1"],
            "first_seen": pd.to_datetime([times[0]] * 2, utc=True),
            "last_seen": pd.to_datetime([times[-1]] * 2, utc=True),
        }
    )
    usage = pd.DataFrame(
        {
            "timestamp": pd.to_datetime([t for t in times for _ in (0, 1)], utc=True),
            "namespace": ["ns"] * 6,
            "pod": ["a", "b"] * 3,
            "container": ["app", "agent"] * 3,
            "cpu_cores": [0.5, 0.05, 0.7, 0.05, 0.9, 0.05],
            "memory_bytes": [1e8] * 6,
            "cpu_throttled_ratio": [np.nan] * 6,
        }
    )
    tables = {
        "nodes": nodes,
        "workloads": empty_table("workloads"),
        "pods": pods,
        "containers": empty_table("containers"),
        "usage": usage,
    }
    if node_usage is not None:
        tables["node_usage"] = node_usage
    manifest = SnapshotManifest(
        "c", start, times[-1], 300, "test", start, {k: len(v) for k, v in tables.items()}
    )
    return Snapshot(manifest, tables)


def test_node_cpu_is_containers_plus_the_stated_allowance() -> None:
    result = node_cpu(_snapshot(None), lambda group, instance_type: 0.07)
    assert result.source == {"n1": "containers"}
    assert result.allowance_cores == {"n1": 0.07}
    np.testing.assert_allclose(result.cpu_cores[:, 0], [0.62, 0.82, 1.02])


def test_node_cpu_prefers_node_exporter_where_scraped() -> None:
    snapshot = _snapshot(None)
    stamps = pd.DatetimeIndex(snapshot.usage["timestamp"].unique())
    exporter = pd.DataFrame(
        {"timestamp": stamps, "node": ["n1"] * 3, "cpu_cores": [0.7, 0.95, 1.2]}
    )
    result = node_cpu(_snapshot(exporter), lambda group, instance_type: 0.07)
    assert result.source == {"n1": "node_usage"}
    np.testing.assert_allclose(result.cpu_cores[:, 0], [0.7, 0.95, 1.2])


@pytest.mark.parametrize("mode", ["unlimited", "standard"])
def test_one_node_and_many_nodes_run_the_same_accounting(mode: str) -> None:
    """The one-node path (plain floats) and the many-node path (arrays) agree, node by node."""
    rng = np.random.default_rng(7)
    day = rng.uniform(0.0, 2.0, size=(288, 2))
    day[200:, 1] = np.nan  # the second node stops at step 200
    both = simulate_credits(day, 5 / 60, T3_MEDIUM, mode=mode)  # type: ignore[arg-type]
    one = [simulate_credits(day[:, i], 5 / 60, T3_MEDIUM, mode=mode) for i in range(2)]  # type: ignore[arg-type]
    assert both.surplus_usd == pytest.approx(sum(r.surplus_usd for r in one))
    assert both.throttled_core_hours == pytest.approx(sum(r.throttled_core_hours for r in one))
    np.testing.assert_allclose(both.balance, one[0].balance + one[1].balance, atol=1e-9)
